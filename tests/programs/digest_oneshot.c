/* An ordinary program linked against the system's libcrypto: prints one-shot digests
 * (EVP_Digest and the legacy SHA*() functions) of fixed and edge-length inputs, so its
 * output can be compared with and without libcryptine.so underneath. */
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
  free(buf);
  return 0;
}
