/* An ordinary program linked against the system's libcrypto: prints one-shot digests
 * (EVP_Digest and the legacy SHA*() functions) of fixed and edge-length inputs, then
 * SHA-256 contexts that stream past the provider's 16 KiB of held input, are copied
 * before and after that, and are initialised again, so its output can be compared with
 * and without libcryptine.so underneath (test-digest-oneshot counts their calls). */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print(const char* what, size_t len, const unsigned char* md, unsigned int n) {
  printf("%s %zu ", what, len);
  for (unsigned int i = 0; i < n; ++i) printf("%02x", md[i]);
  printf("\n");
}

/* EVP_DigestFinal_ex of `ctx` printed as `what`, with the bytes it hashed. */
static int print_final(EVP_MD_CTX* ctx, const char* what, size_t len) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_DigestFinal_ex(ctx, md, &n)) return 0;
  print(what, len, md, n);
  return 1;
}

/* Contexts around the provider's bound on held input (16 KiB): a stream that passes it in
 * its second update; a copy of a context still under it, which the copy then passes; a
 * copy of one past it; a context initialised again after passing it, mid-stream and
 * after its final. Returns 0 on any failure. */
static int contexts(const unsigned char* buf) {
  const EVP_MD* sha256 = EVP_sha256();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  int ok = ctx != NULL && copy != NULL;

  ok = ok && EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, buf, 10000) &&
       EVP_DigestUpdate(ctx, buf + 10000, 10000) && EVP_DigestUpdate(ctx, buf + 20000, 5000) &&
       print_final(ctx, "stream-past-bound-SHA256", 25000);

  ok = ok && EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, buf, 1000) &&
       EVP_MD_CTX_copy_ex(copy, ctx) && EVP_DigestUpdate(ctx, buf + 1000, 500) &&
       print_final(ctx, "copied-under-bound-original-SHA256", 1500) && EVP_DigestUpdate(copy, buf + 1000, 20000) &&
       print_final(copy, "copied-under-bound-copy-SHA256", 21000);
  EVP_MD_CTX_reset(copy);  // its virtine goes back before the next context spills (one VM reused)

  ok = ok && EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, buf, 20000) &&
       EVP_MD_CTX_copy_ex(copy, ctx) && EVP_DigestUpdate(ctx, buf + 20000, 100) &&
       print_final(ctx, "copied-past-bound-original-SHA256", 20100) &&
       print_final(copy, "copied-past-bound-copy-SHA256", 20000);
  EVP_MD_CTX_reset(copy);

  ok = ok && EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, buf, 20000) &&
       EVP_DigestInit_ex(ctx, sha256, NULL) && EVP_DigestUpdate(ctx, buf, 100) &&
       print_final(ctx, "init-again-mid-stream-SHA256", 100) && EVP_DigestInit_ex(ctx, NULL, NULL) &&
       EVP_DigestUpdate(ctx, buf, 20000) && print_final(ctx, "init-again-after-final-SHA256", 20000);

  EVP_MD_CTX_free(copy);
  EVP_MD_CTX_free(ctx);
  return ok;
}

int main(void) {
  static const size_t lengths[] = {0, 1, 3, 55, 56, 64, 1000, 100000, 1048576, 3000000};
  unsigned char* buf = malloc(3000000);
  if (buf == NULL) return 1;
  for (size_t i = 0; i < 3000000; ++i) buf[i] = (unsigned char)(i * 131 + 7);
  const char* names[] = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3-256", "MD5"};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n;
  for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); ++l) {
    for (size_t a = 0; a < sizeof(names) / sizeof(names[0]); ++a) {
      if (!EVP_Digest(buf, lengths[l], md, &n, EVP_get_digestbyname(names[a]), NULL)) {
        fprintf(stderr, "EVP_Digest(%s) failed: ", names[a]);
        ERR_print_errors_fp(stderr);
        return 2;
      }
      print(names[a], lengths[l], md, n);
    }
    print("legacy-SHA1", lengths[l], SHA1(buf, lengths[l], md), SHA_DIGEST_LENGTH);
    print("legacy-SHA256", lengths[l], SHA256(buf, lengths[l], md), SHA256_DIGEST_LENGTH);
    print("legacy-SHA512", lengths[l], SHA512(buf, lengths[l], md), SHA512_DIGEST_LENGTH);
  }
  if (!contexts(buf)) {
    fprintf(stderr, "digest contexts failed: ");
    ERR_print_errors_fp(stderr);
    return 2;
  }
  free(buf);
  return 0;
}
