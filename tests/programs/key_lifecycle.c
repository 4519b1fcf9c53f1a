/* A private key's life in a preloaded program, across what takes a virtine away from it:
 *
 *   key-lifecycle fork RSA.pem       sign, fork; the child signs with a signing context
 *                                    the parent made before the fork, then with a new one
 *                                    on the same EVP_PKEY; then the parent signs again
 *   key-lifecycle confine RSA.pem X25519.pem PEER.pem
 *                                    sign and derive (X25519 with PEER's public part), confine with a seccomp filter that
 *                                    kills on ioctl (seccomp_confine.c's), sign and derive
 *                                    again with the same keys, then generate a P-256 and an
 *                                    X25519 key under the filter and use them
 *   key-lifecycle generate PEER.pem  generate a P-256 key (asked for by its NIST name) and an
 *                                    X25519 key, and use them, with no filter
 *
 * The signatures are RSA PKCS#1 v1.5 over a fixed SHA-256 digest and the derivations X25519
 * between two fixed keys, so every "NAME HEX" line has one right value, the native run's.
 * A generated key's line is "NAME ok" when its signature verifies (P-256) or both sides of
 * the exchange agree (X25519). A failure prints "NAME error: <OpenSSL's errors>". Exit 0 at
 * the end (the child's status is the parent's to print). */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/wait.h>

#include "confined_output.h"

static const unsigned char digest[32] = "0123456789abcdef0123456789abcde";

static EVP_PKEY* load(const char* path) {
  FILE* f = fopen(path, "r");
  EVP_PKEY* key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f != NULL) fclose(f);
  if (key == NULL) {
    fprintf(stderr, "key-lifecycle: cannot read %s\n", path);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  return key;
}

/* A context set up to sign, or NULL. */
static EVP_PKEY_CTX* signing_context(EVP_PKEY* key) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, NULL);
  if (ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
      EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0)
    return ctx;
  EVP_PKEY_CTX_free(ctx);
  return NULL;
}

static void sign_with(const char* name, EVP_PKEY_CTX* ctx) {
  unsigned char sig[512];
  size_t len = sizeof(sig);
  if (ctx != NULL && EVP_PKEY_sign(ctx, sig, &len, digest, sizeof(digest)) > 0)
    print_hex(name, sig, len);
  else
    print_error(name);
}

static void sign(const char* name, EVP_PKEY* key) {
  EVP_PKEY_CTX* ctx = signing_context(key);
  sign_with(name, ctx);
  EVP_PKEY_CTX_free(ctx);
}

/* The secret of `mine` with `peer`'s public part; its length, 0 on failure. */
static size_t derive(EVP_PKEY* mine, EVP_PKEY* peer, unsigned char secret[64]) {
  size_t len = 64;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(mine, NULL);
  const int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer(ctx, peer) > 0 &&
                 EVP_PKEY_derive(ctx, secret, &len) > 0;
  EVP_PKEY_CTX_free(ctx);
  return ok ? len : 0;
}

static void print_derive(const char* name, EVP_PKEY* mine, EVP_PKEY* peer) {
  unsigned char secret[64];
  const size_t len = derive(mine, peer, secret);
  if (len > 0) print_hex(name, secret, len);
  else print_error(name);
}

/* A key made now (in a virtine, or under the filter on the host), then used. */
static void generate_and_use(EVP_PKEY* peer) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  unsigned char sig[128];
  size_t len = sizeof(sig);
  EVP_PKEY_CTX* sctx = ec != NULL ? EVP_PKEY_CTX_new(ec, NULL) : NULL;
  EVP_PKEY_CTX* vctx = ec != NULL ? EVP_PKEY_CTX_new(ec, NULL) : NULL;
  if (sctx != NULL && vctx != NULL && EVP_PKEY_sign_init(sctx) > 0 &&
      EVP_PKEY_sign(sctx, sig, &len, digest, sizeof(digest)) > 0 && EVP_PKEY_verify_init(vctx) > 0 &&
      EVP_PKEY_verify(vctx, sig, len, digest, sizeof(digest)) == 1)
    printf("generated-p256-sign ok\n");
  else
    print_error("generated-p256-sign");
  EVP_PKEY_CTX_free(sctx);
  EVP_PKEY_CTX_free(vctx);
  EVP_PKEY_free(ec);

  EVP_PKEY* x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
  unsigned char a[64], b[64];
  const size_t alen = x != NULL ? derive(x, peer, a) : 0;
  const size_t blen = x != NULL ? derive(peer, x, b) : 0;
  if (alen == 32 && blen == 32 && memcmp(a, b, 32) == 0) printf("generated-x25519-derive ok\n");
  else print_error("generated-x25519-derive");
  EVP_PKEY_free(x);
}

static int fork_case(const char* rsa_path) {
  EVP_PKEY* rsa = load(rsa_path);
  sign("parent-before", rsa);
  EVP_PKEY_CTX* early = signing_context(rsa); /* its key's virtine is the parent's */
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    sign_with("child-early", early);
    EVP_PKEY_CTX_free(early);
    sign("child", rsa);
    EVP_PKEY_free(rsa);
    exit(0);  /* through exit(): the child's counters are printed too */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child-status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  sign("parent-after", rsa);
  EVP_PKEY_CTX_free(early);
  EVP_PKEY_free(rsa);
  return 0;
}

static int confine_case(const char* rsa_path, const char* x25519_path, const char* peer_path) {
  EVP_PKEY* rsa = load(rsa_path);
  EVP_PKEY* x = load(x25519_path);
  EVP_PKEY* peer = load(peer_path);
  sign("before", rsa);
  print_derive("derive-before", x, peer);
  install_filter("prctl");
  sign("after", rsa);
  print_derive("derive-after", x, peer);
  generate_and_use(peer);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(x);
  EVP_PKEY_free(peer);
  return 0;
}

static int generate_case(const char* peer_path) {
  EVP_PKEY* peer = load(peer_path);
  generate_and_use(peer);
  EVP_PKEY_free(peer);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "fork") == 0) return fork_case(argv[2]);
  if (argc == 3 && strcmp(argv[1], "generate") == 0) return generate_case(argv[2]);
  if (argc == 5 && strcmp(argv[1], "confine") == 0) return confine_case(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: key-lifecycle fork RSA.pem | confine RSA.pem X25519.pem PEER.pem | generate PEER.pem\n");
  return 2;
}
