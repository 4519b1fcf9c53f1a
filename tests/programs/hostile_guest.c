/* A program's crypto calls with fenced buffers, for runs under libcryptine.so with a
 * hostile guest (tests/programs/test-hostile-guest).
 *
 * Every buffer, input or output, has exactly the size OpenSSL documents for the call,
 * ends where an inaccessible page begins, and is preceded by canary bytes: a guest that
 * could make the shim write past an output, read past an input or write before either
 * is caught, by SIGSEGV or by the canaries.
 *
 * Usage: hostile-guest [--params] RSA.pem EC.pem X25519.pem X25519-PEER.pem
 * With --params, then the cipher context params a guest answers (IVs, tag length, TLS AAD
 * pad, num, padding, a name no cipher has), each read into a fenced buffer and printed
 * with its return size, so a value or size the guest lies about shows or fails the call.
 * Prints one line per operation: "<op>: ok <output in hex>" when every call succeeded
 * (the output as the calls reported it: a guest may lie about values, within the lengths
 * OpenSSL allows), "<op>: failed, error queued: <its text>" or "<op>: failed, no error",
 * then "fences intact". Exits 0, or 3 if a fence broke. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kPage = 4096, kMaxFences = 16, kCanary = 0xc5 };

struct fence {
  unsigned char* map;  // canaries, the buffer, then one PROT_NONE page
  size_t map_len;
  unsigned char* buf;
};
static struct fence fences[kMaxFences];
static int fence_count;
static int fence_broken;

/* n bytes ending right at an inaccessible page, filled with `fill`, canaries before. */
static unsigned char* fenced(size_t n, int fill) {
  if (fence_count == kMaxFences) abort();
  const size_t pages = (n + 64 + kPage - 1) / kPage + 1;
  unsigned char* map = mmap(NULL, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED || mprotect(map + (pages - 1) * kPage, kPage, PROT_NONE) != 0) abort();
  unsigned char* buf = map + (pages - 1) * kPage - n;
  memset(map, kCanary, (size_t)(buf - map));
  memset(buf, fill, n);
  fences[fence_count++] = (struct fence){map, pages * kPage, buf};
  return buf;
}

static unsigned char* fenced_copy(const void* data, size_t n) {
  unsigned char* buf = fenced(n, 0);
  memcpy(buf, data, n);
  return buf;
}

/* Checks every canary and unmaps the operation's buffers. */
static void drop_fences(const char* op) {
  for (int i = 0; i < fence_count; ++i) {
    for (const unsigned char* p = fences[i].map; p < fences[i].buf; ++p)
      if (*p != kCanary) {
        printf("FENCE BROKEN: %s wrote %td bytes before a buffer\n", op, fences[i].buf - p);
        fence_broken = 1;
        break;
      }
    munmap(fences[i].map, fences[i].map_len);
  }
  fence_count = 0;
}

static void on_segv(int sig) {
  (void)sig;
  static const char msg[] = "FENCE BROKEN: an access past a buffer reached its guard page\n";
  if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) _exit(4);
  _exit(3);
}

/* One operation's outcome: its output, or its failure and whether OpenSSL's error queue
 * says why (a failed call must, as natively). */
static void report(const char* op, int ok, const unsigned char* out, size_t n) {
  if (ok) {
    printf("%s: ok ", op);
    for (size_t i = 0; i < n; ++i) printf("%02x", out[i]);
    printf("\n");
  } else if (ERR_peek_error() == 0) {
    printf("%s: failed, no error\n", op);
  } else {
    const char* data = NULL;
    int flags = 0;
    const unsigned long code = ERR_peek_error_data(&data, &flags);
    printf("%s: failed, error queued: %s\n", op,
           (flags & ERR_TXT_STRING) && data[0] != '\0' ? data : ERR_reason_error_string(code));
  }
  fflush(stdout);
  ERR_clear_error();
  drop_fences(op);
}

/* a[0..n) then b[0..m) then c[0..k) into out; negative lengths count as 0. */
static size_t concat(unsigned char* out, const unsigned char* a, int n, const unsigned char* b, int m,
                     const unsigned char* c, int k) {
  size_t len = 0;
  const unsigned char* parts[] = {a, b, c};
  const int lens[] = {n, m, k};
  for (int i = 0; i < 3; ++i)
    if (lens[i] > 0) {
      memcpy(out + len, parts[i], (size_t)lens[i]);
      len += (size_t)lens[i];
    }
  return len;
}

static const unsigned char kData[100] = "fenced buffers: a hostile guest must not reach past them";
static const unsigned char kKey[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char kIv[16] = "fedcba9876543210";

static void one_shot_digests(void) {
  const unsigned char* in = fenced_copy(kData, sizeof(kData));
  unsigned char* md = fenced(SHA256_DIGEST_LENGTH, 0);
  report("SHA256", SHA256(in, sizeof(kData), md) != NULL, md, SHA256_DIGEST_LENGTH);

  in = fenced_copy(kData, sizeof(kData));
  md = fenced(SHA256_DIGEST_LENGTH, 0);
  unsigned int len = 0;
  const int ok = EVP_Digest(in, sizeof(kData), md, &len, EVP_sha256(), NULL);
  report("EVP_Digest sha256", ok, md, len);
}

/* Past the provider's 16 KiB of held input, so the running hash moves into the virtine and
 * the final is the guest context's (the short digests above are one-shots). */
static void digest_context(void) {
  enum { kLong = 20000 };
  const unsigned char* in = fenced_copy(kData, sizeof(kData));
  unsigned char* more = fenced(kLong, 0x5a);
  unsigned char* md = fenced(SHA512_DIGEST_LENGTH, 0);
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const int ok = EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) && EVP_DigestUpdate(ctx, in, sizeof(kData)) &&
                 EVP_DigestUpdate(ctx, more, kLong) && EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  report("digest context sha512", ok, md, len);
}

/* GCM: AAD, 64 bytes into exactly 64, a final with no room at all, the tag into 16. */
static void gcm_encrypt(void) {
  const unsigned char* key = fenced_copy(kKey, 16);
  const unsigned char* iv = fenced_copy(kIv, 12);
  const unsigned char* aad = fenced_copy(kData, 13);
  const unsigned char* in = fenced_copy(kData, 64);
  unsigned char* out = fenced(64, 0);
  unsigned char* after = fenced(0, 0);
  unsigned char* tag = fenced(16, 0);
  int n = 0, m = 0, a = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const int ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) &&
                 EVP_EncryptUpdate(ctx, NULL, &a, aad, 13) && EVP_EncryptUpdate(ctx, out, &n, in, 64) &&
                 EVP_EncryptFinal_ex(ctx, after, &m) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  unsigned char all[96];
  const size_t len = concat(all, out, n, after, m, tag, 16);
  report("aes-128-gcm encrypt", ok && a == 13, all, len);
}

/* CBC: an update may write inl + block size - 1 bytes, a final one block. */
static void cbc_encrypt(void) {
  const unsigned char* key = fenced_copy(kKey, 16);
  const unsigned char* iv = fenced_copy(kIv, 16);
  const unsigned char* in = fenced_copy(kData, 40);
  unsigned char* out = fenced(40 + 15, 0);
  unsigned char* last = fenced(16, 0);
  int n = 0, m = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const int ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv) &&
                 EVP_EncryptUpdate(ctx, out, &n, in, 40) && EVP_EncryptFinal_ex(ctx, last, &m);
  EVP_CIPHER_CTX_free(ctx);
  unsigned char all[72];
  const size_t len = concat(all, out, n, last, m, NULL, 0);
  report("aes-128-cbc encrypt", ok, all, len);
}

/* EVP_Cipher on a stream mode: exactly inl bytes out. */
static void ctr_evp_cipher(void) {
  const unsigned char* key = fenced_copy(kKey, 16);
  const unsigned char* iv = fenced_copy(kIv, 16);
  const unsigned char* in = fenced_copy(kData, 64);
  unsigned char* out = fenced(64, 0);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const int ok = EVP_CipherInit_ex(ctx, EVP_aes_128_ctr(), NULL, key, iv, 1);
  const int n = ok ? EVP_Cipher(ctx, out, in, 64) : -1;
  EVP_CIPHER_CTX_free(ctx);
  report("aes-128-ctr EVP_Cipher", n >= 0, out, n >= 0 && n <= 64 ? (size_t)n : 0);
}

/* In place, as TLS records are: the buffer is the input and the output. */
static void chacha_in_place(void) {
  const unsigned char* key = fenced_copy(kKey, 32);
  const unsigned char* iv = fenced_copy(kIv, 12);
  unsigned char* buf = fenced_copy(kData, 64);
  int n = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const int ok = EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, iv) &&
                 EVP_EncryptUpdate(ctx, buf, &n, buf, 64);
  EVP_CIPHER_CTX_free(ctx);
  report("chacha20-poly1305 in place", ok, buf, (size_t)n);
}

static void macs(void) {
  const unsigned char* key = fenced_copy(kKey, 32);
  const unsigned char* in = fenced_copy(kData, sizeof(kData));
  unsigned char* md = fenced(32, 0);
  unsigned int len = 0;
  const int ok = HMAC(EVP_sha256(), key, 32, in, sizeof(kData), md, &len) != NULL;
  report("HMAC sha256", ok, md, len);

  key = fenced_copy(kKey, 32);
  in = fenced_copy(kData, sizeof(kData));
  unsigned char* mac = fenced(32, 0);
  size_t outl = 0;
  EVP_MAC* hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  const int ok2 = ctx != NULL && EVP_MAC_init(ctx, key, 32, params) && EVP_MAC_update(ctx, in, sizeof(kData)) &&
                  EVP_MAC_final(ctx, mac, &outl, 32);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  report("EVP_MAC hmac-sha256", ok2, mac, outl);
}

static EVP_PKEY* read_key(const char* path) {
  FILE* f = fopen(path, "r");
  EVP_PKEY* key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f != NULL) fclose(f);
  if (key == NULL) {
    fprintf(stderr, "hostile-guest: cannot read the key %s\n", path);
    exit(2);
  }
  return key;
}

/* RSA PKCS#1 over a SHA-256 digest (any 32 bytes), into exactly EVP_PKEY_get_size bytes. */
static void rsa_sign(EVP_PKEY* rsa) {
  const unsigned char* tbs = fenced_copy(kKey, 32);
  const size_t size = (size_t)EVP_PKEY_get_size(rsa);
  unsigned char* sig = fenced(size, 0);
  size_t siglen = size;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(rsa, NULL);
  const int ok = EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
                 EVP_PKEY_sign(ctx, sig, &siglen, tbs, 32) > 0;
  EVP_PKEY_CTX_free(ctx);
  report("rsa-2048 sign", ok, sig, siglen);
}

/* ECDSA signatures differ per run: the line says whether it verifies (natively). */
static void ecdsa_digest_sign(EVP_PKEY* ec) {
  const unsigned char* msg = fenced_copy(kData, sizeof(kData));
  const size_t size = (size_t)EVP_PKEY_get_size(ec);
  unsigned char* sig = fenced(size, 0);
  size_t siglen = size;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec) && EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(kData));
  EVP_MD_CTX_free(ctx);
  int verified = 0;
  if (ok) {
    ctx = EVP_MD_CTX_new();
    verified = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, ec) == 1 &&
               EVP_DigestVerify(ctx, sig, siglen, kData, sizeof(kData)) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
  }
  const unsigned char word[] = {(unsigned char)verified};
  report("ecdsa-p256 DigestSign (verifies)", ok, word, 1);
}

static void x25519_derive(EVP_PKEY* key, EVP_PKEY* peer) {
  unsigned char* secret = fenced(32, 0);
  size_t len = 32;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, NULL);
  const int ok = EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer(ctx, peer) > 0 &&
                 EVP_PKEY_derive(ctx, secret, &len) > 0;
  EVP_PKEY_CTX_free(ctx);
  report("x25519 derive", ok, secret, len);
}

/* ---- --params: one context per param, so a lie fails that line alone ---------------- */

/* A param's return size (one byte: 0xff for unmodified, as OpenSSL leaves it when it does
 * not answer) and then the whole buffer it was read into, so that bytes written past the
 * value show. */
static void report_param(const char* op, int ok, const OSSL_PARAM* p) {
  unsigned char all[1 + 64];
  all[0] = p->return_size == OSSL_PARAM_UNMODIFIED ? 0xff : (unsigned char)p->return_size;
  memcpy(all + 1, p->data, p->data_size);
  report(op, ok, all, 1 + p->data_size);
}

/* A CBC or CTR context that encrypted `n` bytes of kData. */
static EVP_CIPHER_CTX* encrypted(const EVP_CIPHER* cipher, size_t n) {
  const unsigned char* key = fenced_copy(kKey, 16);
  const unsigned char* iv = fenced_copy(kIv, 16);
  const unsigned char* in = fenced_copy(kData, n);
  unsigned char* out = fenced(n + 15, 0);
  int outl = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) || !EVP_EncryptUpdate(ctx, out, &outl, in, (int)n)) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static EVP_CIPHER_CTX* gcm_keyed(void) {
  const unsigned char* key = fenced_copy(kKey, 16);
  const unsigned char* iv = fenced_copy(kIv, 12);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv)) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* An octet-string param read into a 32-byte buffer of 0x77: larger than the value, as a
 * program may give, so that a value past its length has room to show. */
static void octets_param(const char* op, EVP_CIPHER_CTX* ctx, const char* name) {
  unsigned char* buf = fenced(32, 0x77);
  OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(name, buf, 32), OSSL_PARAM_construct_end()};
  const int ok = ctx != NULL && EVP_CIPHER_CTX_get_params(ctx, p) == 1;
  report_param(op, ok, &p[0]);
  EVP_CIPHER_CTX_free(ctx);
}

static void uint_param(const char* op, EVP_CIPHER_CTX* ctx, const char* name) {
  unsigned int* v = (unsigned int*)fenced(sizeof(unsigned int), 0x77);
  OSSL_PARAM p[] = {OSSL_PARAM_construct_uint(name, v), OSSL_PARAM_construct_end()};
  const int ok = ctx != NULL && EVP_CIPHER_CTX_get_params(ctx, p) == 1;
  report_param(op, ok, &p[0]);
  EVP_CIPHER_CTX_free(ctx);
}

static void params(void) {
  octets_param("aes-128-cbc updated-iv", encrypted(EVP_aes_128_cbc(), 32), OSSL_CIPHER_PARAM_UPDATED_IV);
  octets_param("aes-128-gcm iv", gcm_keyed(), OSSL_CIPHER_PARAM_IV);

  EVP_CIPHER_CTX* ctx = gcm_keyed();
  size_t* taglen = (size_t*)fenced(sizeof(size_t), 0x77);
  OSSL_PARAM t[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_TAGLEN, taglen), OSSL_PARAM_construct_end()};
  report_param("aes-128-gcm taglen", ctx != NULL && EVP_CIPHER_CTX_get_params(ctx, t) == 1, &t[0]);
  EVP_CIPHER_CTX_free(ctx);

  /* libssl's TLS 1.2 record: the pad the ctrl returns is what it adds to the record. The
   * shim answers the ctrl's pad itself, from the AAD it records; read again, the pad is
   * the guest's answer. */
  ctx = gcm_keyed();
  unsigned char* aad = fenced_copy("\0\0\0\0\0\0\0\1\x17\x03\x03\0\x40", 13);
  const int pad = ctx != NULL ? EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_TLS1_AAD, 13, aad) : 0;
  size_t again = 0;
  OSSL_PARAM q[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, &again), OSSL_PARAM_construct_end()};
  const int asked = pad > 0 && EVP_CIPHER_CTX_get_params(ctx, q) == 1;
  const unsigned char pad_bytes[] = {(unsigned char)(pad >> 24), (unsigned char)(pad >> 16), (unsigned char)(pad >> 8),
                                     (unsigned char)pad, (unsigned char)again};
  report("aes-128-gcm TLS AAD pad", pad > 0 && asked, pad_bytes, sizeof(pad_bytes));
  EVP_CIPHER_CTX_free(ctx);

  uint_param("aes-128-ctr num", encrypted(EVP_aes_128_ctr(), 5), OSSL_CIPHER_PARAM_NUM);

  ctx = encrypted(EVP_aes_128_cbc(), 16);
  if (ctx != NULL && !EVP_CIPHER_CTX_set_padding(ctx, 0)) {
    EVP_CIPHER_CTX_free(ctx);
    ctx = NULL;
  }
  uint_param("aes-128-cbc padding", ctx, OSSL_CIPHER_PARAM_PADDING);

  octets_param("aes-128-cbc a param no cipher has", encrypted(EVP_aes_128_cbc(), 16), "cryptine-no-such-param");
}

int main(int argc, char** argv) {
  const int with_params = argc > 1 && strcmp(argv[1], "--params") == 0;
  argc -= with_params;
  argv += with_params;
  if (argc != 5) {
    fprintf(stderr, "usage: %s [--params] RSA.pem EC.pem X25519.pem X25519-PEER.pem\n", argv[0]);
    return 2;
  }
  signal(SIGSEGV, on_segv);
  signal(SIGBUS, on_segv);
  EVP_PKEY* rsa = read_key(argv[1]);
  EVP_PKEY* ec = read_key(argv[2]);
  EVP_PKEY* x25519 = read_key(argv[3]);
  EVP_PKEY* peer = read_key(argv[4]);

  one_shot_digests();
  digest_context();
  gcm_encrypt();
  cbc_encrypt();
  ctr_evp_cipher();
  chacha_in_place();
  macs();
  rsa_sign(rsa);
  ecdsa_digest_sign(ec);
  x25519_derive(x25519, peer);
  if (with_params) params();

  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(x25519);
  EVP_PKEY_free(peer);
  if (fence_broken) return 3;
  printf("fences intact\n");
  return 0;
}
