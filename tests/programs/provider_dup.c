/* The provider's dupctx and re-init: loads "cryptine" from argv[1] (a -provider-path
   directory), hashes a prefix, copies the context (EVP_MD_CTX_copy_ex: the provider's dupctx)
   and finishes the original and the copy with different suffixes, then re-initialises the
   original and hashes again; every digest must equal the default provider's. Prints one
   line per check; exits 0 only if all hold. */
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <string.h>

#include "provider_test.h"

static int digest_native(const char* md, const char* a, const char* b, unsigned char* out) {
  EVP_MD* type = EVP_MD_fetch(NULL, md, "provider=default");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  int ok = type != NULL && ctx != NULL && EVP_DigestInit_ex2(ctx, type, NULL) && EVP_DigestUpdate(ctx, a, strlen(a)) &&
           EVP_DigestUpdate(ctx, b, strlen(b)) && EVP_DigestFinal_ex(ctx, out, &n);
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(type);
  return ok ? (int)n : -1;
}

static int same(const char* what, const unsigned char* got, int got_len, const unsigned char* want, int want_len) {
  int ok = got_len > 0 && got_len == want_len && memcmp(got, want, (size_t)got_len) == 0;
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  return ok;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  OSSL_PROVIDER *prov, *deflt;
  if (!load_providers(argv[1], &prov, &deflt)) return 1;
  EVP_MD* md = EVP_MD_fetch(NULL, "SHA256", "provider=cryptine");
  if (md == NULL) {
    printf("FAIL fetching the provider's SHA256\n");
    return 1;
  }
  const char* prefix = "the common prefix, ";
  EVP_MD_CTX* a = EVP_MD_CTX_new();
  EVP_MD_CTX* b = EVP_MD_CTX_new();
  unsigned char got[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int all = 1, want_len;
  int ok = a != NULL && b != NULL && EVP_DigestInit_ex2(a, md, NULL) && EVP_DigestUpdate(a, prefix, strlen(prefix)) &&
           EVP_MD_CTX_copy_ex(b, a);
  printf("%s init, update, copy\n", ok ? "ok  " : "FAIL");
  all &= ok;

  want_len = digest_native("SHA256", prefix, "then the original", want);
  n = 0;
  ok = EVP_DigestUpdate(a, "then the original", 17) && EVP_DigestFinal_ex(a, got, &n);
  all &= same("the original", got, ok ? (int)n : -1, want, want_len);

  want_len = digest_native("SHA256", prefix, "then the copy", want);
  n = 0;
  ok = EVP_DigestUpdate(b, "then the copy", 13) && EVP_DigestFinal_ex(b, got, &n);
  all &= same("the copy", got, ok ? (int)n : -1, want, want_len);

  want_len = digest_native("SHA256", "re-initialised", "", want);
  n = 0;
  ok = EVP_DigestInit_ex2(a, NULL, NULL) && EVP_DigestUpdate(a, "re-initialised", 14) && EVP_DigestFinal_ex(a, got, &n);
  all &= same("the original, re-initialised", got, ok ? (int)n : -1, want, want_len);

  EVP_MD_CTX_free(a);
  EVP_MD_CTX_free(b);
  EVP_MD_free(md);
  OSSL_PROVIDER_unload(prov);
  OSSL_PROVIDER_unload(deflt);
  return all ? 0 : 1;
}
