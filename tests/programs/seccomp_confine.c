/* A program that confines itself with seccomp, as sandboxing daemons do (OpenSSH's
 * pre-authentication child): the filter kills the process on ioctl, timer_create and
 * timer_settime (what running a virtine takes) and allows everything else.
 *
 *   seccomp-confine before prctl|syscall   filter first, then the crypto calls
 *   seccomp-confine after prctl|syscall    crypto calls (and two contexts kept), the
 *                                          filter, the calls again, then the kept ones
 *   seccomp-confine inherit                the filter, then exec of "before none": the
 *                                          new image starts under it
 *
 * Each operation prints "NAME HEX" or "NAME error: <OpenSSL's error>"; contexts made
 * before the filter print lines starting with "prefilter". Exit 0 at the end. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confined_output.h"

static unsigned char data[4096];
static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char iv[16] = "fedcba9876543210";

static void digest_oneshot(const char* name, const char* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data, sizeof(data), out, &n, EVP_get_digestbyname(md), NULL)) print_hex(name, out, n);
  else print_error(name);
}

static void digest_streaming(const char* name, const char* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_get_digestbyname(md), NULL) &&
      EVP_DigestUpdate(ctx, data, 1000) && EVP_DigestUpdate(ctx, data + 1000, sizeof(data) - 1000) &&
      EVP_DigestFinal_ex(ctx, out, &n))
    print_hex(name, out, n);
  else
    print_error(name);
  EVP_MD_CTX_free(ctx);
}

static void encrypt(const char* name, const char* cipher) {
  unsigned char out[sizeof(data) + 32];
  int n = 0, m = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER* c = EVP_get_cipherbyname(cipher);
  int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, c, NULL, key, iv) &&
           EVP_EncryptUpdate(ctx, out, &n, data, 100) && EVP_EncryptFinal_ex(ctx, out + n, &m);
  if (ok && EVP_CIPHER_get_mode(c) == EVP_CIPH_GCM_MODE)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + n + m) > 0, m += 16;
  if (ok) print_hex(name, out, (size_t)(n + m));
  else print_error(name);
  EVP_CIPHER_CTX_free(ctx);
}

static void hmac(const char* name) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t n = 0;
  if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key), data, sizeof(data), out, sizeof(out), &n))
    print_hex(name, out, n);
  else print_error(name);
}

static void all_operations(void) {
  digest_oneshot("sha256-oneshot", "SHA256");
  digest_streaming("sha512-streaming", "SHA512");
  encrypt("aes-256-cbc", "AES-256-CBC");
  encrypt("aes-256-gcm", "AES-256-GCM");
  hmac("hmac-sha256");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s before|after prctl|syscall|none, or inherit\n", argv[0]);
    return 1;
  }
  for (size_t i = 0; i < sizeof(data); ++i) data[i] = (unsigned char)(i * 31 + 5);
  const char* how = argc > 2 ? argv[2] : "prctl";
  printf("start %s %s\n", argv[1], how);

  if (strcmp(argv[1], "inherit") == 0) {
    install_filter("prctl");
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "before", "none", (char*)NULL);
    perror("execl");
    return 1;
  }
  if (strcmp(argv[1], "before") == 0) {
    if (strcmp(how, "none") != 0) install_filter(how);
    all_operations();
    return 0;
  }
  if (strcmp(argv[1], "after") != 0) return 1;

  all_operations();
  /* Contexts made before the filter, their state in virtines under the shim. The digest is
     fed past the 16 KiB a digest context holds on the host, so its running hash is in its
     virtine too. */
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
  int fed = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (int i = 0; fed && i < 17 * 1024 / 64; ++i) fed = EVP_DigestUpdate(md, data, 64);
  if (!fed || cipher == NULL || !EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), NULL, key, iv)) {
    print_error("prefilter setup");
    return 1;
  }
  install_filter(how);
  all_operations();

  unsigned char out[sizeof(data) + 32];
  unsigned int n = 0;
  int len = 0;
  if (EVP_DigestUpdate(md, data + 64, 64) && EVP_DigestFinal_ex(md, out, &n)) print_hex("prefilter sha256", out, n);
  else print_error("prefilter sha256");
  if (EVP_EncryptUpdate(cipher, out, &len, data, 64)) print_hex("prefilter aes-128-cbc", out, (size_t)len);
  else print_error("prefilter aes-128-cbc");
  EVP_MD_CTX_free(md);  /* forgotten, not reset: no ioctl */
  EVP_CIPHER_CTX_free(cipher);
  printf("end\n");
  return 0;
}
