/* The provider's HMAC through the EVP_MAC API: loads "cryptine" from argv[1] (a
   -provider-path directory) and checks, against the default provider's bytes, a MAC whose
   context is copied mid-stream (dupctx), a re-init that keeps the key, a key longer than
   the digest's block, the sizes the context reports (answered by the host), a too-small
   output buffer (refused, the bytes beyond it untouched), a digest the host does not
   know (refused), and what the host holds back: an init replaced before it was sent, a key
   too long to hold, input past the held bound. Prints one line per check; exits 0 only if all hold. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <string.h>

#include "provider_test.h"

static EVP_MAC* cryptine_hmac;
static EVP_MAC* default_hmac;

static int report(const char* what, int ok) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  return ok;
}

static EVP_MAC_CTX* keyed(EVP_MAC* mac, const char* digest, const unsigned char* key, size_t keylen) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char*)digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx != NULL && EVP_MAC_init(ctx, key, keylen, params)) return ctx;
  EVP_MAC_CTX_free(ctx);
  return NULL;
}

/* The default provider's HMAC of a then b; its length, or -1. */
static int native(const char* digest, const unsigned char* key, size_t keylen, const char* a, const char* b,
                  unsigned char* out) {
  EVP_MAC_CTX* ctx = keyed(default_hmac, digest, key, keylen);
  size_t n = 0;
  int ok = ctx != NULL && EVP_MAC_update(ctx, (const unsigned char*)a, strlen(a)) &&
           EVP_MAC_update(ctx, (const unsigned char*)b, strlen(b)) && EVP_MAC_final(ctx, out, &n, EVP_MAX_MD_SIZE);
  EVP_MAC_CTX_free(ctx);
  return ok ? (int)n : -1;
}

/* Finishes ctx with `tail` and compares with the default provider's HMAC of head, tail. */
static int finish_same(const char* what, EVP_MAC_CTX* ctx, const char* digest, const unsigned char* key, size_t keylen,
                       const char* head, const char* tail) {
  unsigned char got[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
  size_t n = 0;
  int want_len = native(digest, key, keylen, head, tail, want);
  int ok = ctx != NULL && EVP_MAC_update(ctx, (const unsigned char*)tail, strlen(tail)) &&
           EVP_MAC_final(ctx, got, &n, sizeof(got));
  return report(what, ok && want_len > 0 && n == (size_t)want_len && memcmp(got, want, n) == 0);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  OSSL_PROVIDER *prov, *deflt;
  if (!load_providers(argv[1], &prov, &deflt)) return 1;
  cryptine_hmac = EVP_MAC_fetch(NULL, "HMAC", "provider=cryptine");
  default_hmac = EVP_MAC_fetch(NULL, "HMAC", "provider=default");
  if (cryptine_hmac == NULL || default_hmac == NULL) {
    printf("FAIL fetching the providers' HMACs\n");
    return 1;
  }
  int all = 1;
  const unsigned char key[] = "a key of some thirty-two bytes..";
  const char* head = "the common prefix, ";

  EVP_MAC_CTX* a = keyed(cryptine_hmac, "SHA256", key, 32);
  all &= report("HMAC-SHA256: size 32, block size 64, from the context",
                a != NULL && EVP_MAC_CTX_get_mac_size(a) == 32 && EVP_MAC_CTX_get_block_size(a) == 64);
  EVP_MAC_CTX* b = NULL;
  int ok = a != NULL && EVP_MAC_update(a, (const unsigned char*)head, strlen(head)) && (b = EVP_MAC_CTX_dup(a)) != NULL;
  all &= report("init, update, dup", ok);
  all &= finish_same("the original", a, "SHA256", key, 32, head, "then the original");
  all &= finish_same("the copy", b, "SHA256", key, 32, head, "then the copy");
  ok = a != NULL && EVP_MAC_init(a, NULL, 0, NULL);
  all &= report("re-init keeping the key", ok);
  all &= finish_same("the original, re-initialised", a, "SHA256", key, 32, "", "re-initialised");

  unsigned char long_key[200];
  memset(long_key, 0x6b, sizeof(long_key));
  EVP_MAC_CTX* c = keyed(cryptine_hmac, "SHA512", long_key, sizeof(long_key));
  all &= report("HMAC-SHA512: size 64, block size 128",
                c != NULL && EVP_MAC_CTX_get_mac_size(c) == 64 && EVP_MAC_CTX_get_block_size(c) == 128);
  all &= finish_same("HMAC-SHA512, a key longer than the block", c, "SHA512", long_key, sizeof(long_key), "",
                     "some data");

  unsigned char small[16 + 8];
  memset(small, 0xa5, sizeof(small));
  size_t n = 0;
  EVP_MAC_CTX* d = keyed(cryptine_hmac, "SHA256", key, 32);
  ok = d != NULL && EVP_MAC_update(d, key, 32) && !EVP_MAC_final(d, small, &n, 16);
  int untouched = 1;
  for (size_t i = 0; i < sizeof(small); ++i) untouched &= small[i] == 0xa5;
  all &= report("a 16-byte buffer for HMAC-SHA256 is refused, nothing written", ok && untouched);

  /* The host holds an init and the input after it until the final: an init held when the
     next comes keeps its key for it, a key past the host's bound goes at its init, and an
     input past the held bound sends what is held first. */
  EVP_MAC_CTX* f = keyed(cryptine_hmac, "SHA256", key, 32);
  ok = f != NULL && EVP_MAC_init(f, NULL, 0, NULL);
  all &= report("an init, then another without a key", ok);
  all &= finish_same("the key of the first", f, "SHA256", key, 32, "", "once re-initialised");
  unsigned char huge_key[2000];
  memset(huge_key, 0x3c, sizeof(huge_key));
  EVP_MAC_CTX* g = keyed(cryptine_hmac, "SHA256", huge_key, sizeof(huge_key));
  all &= finish_same("a key of 2000 bytes", g, "SHA256", huge_key, sizeof(huge_key), "", "after a long key");
  all &= report("a key of 2000 bytes: re-init keeping it", g != NULL && EVP_MAC_init(g, NULL, 0, NULL));
  all &= finish_same("a key of 2000 bytes, re-initialised", g, "SHA256", huge_key, sizeof(huge_key), "", "again");
  static char prefix[64 + 40000];  /* head, then 40000 bytes: past the 32 KiB the host holds */
  strcpy(prefix, head);
  memset(prefix + strlen(head), 'b', 40000);
  EVP_MAC_CTX* h = keyed(cryptine_hmac, "SHA256", key, 32);
  ok = h != NULL && EVP_MAC_update(h, (const unsigned char*)head, strlen(head)) &&
       EVP_MAC_update(h, (const unsigned char*)prefix + strlen(head), 40000);
  all &= report("40 KiB of input, past what the host holds", ok);
  all &= finish_same("40 KiB of input, then more", h, "SHA256", key, 32, prefix, "tail");

  EVP_MAC_CTX* e = keyed(cryptine_hmac, "NO-SUCH-DIGEST", key, 32);
  all &= report("an unknown digest is refused", e == NULL);

  EVP_MAC_CTX_free(a);
  EVP_MAC_CTX_free(b);
  EVP_MAC_CTX_free(c);
  EVP_MAC_CTX_free(d);
  EVP_MAC_CTX_free(e);
  EVP_MAC_CTX_free(f);
  EVP_MAC_CTX_free(g);
  EVP_MAC_CTX_free(h);
  EVP_MAC_free(cryptine_hmac);
  EVP_MAC_free(default_hmac);
  OSSL_PROVIDER_unload(prov);
  OSSL_PROVIDER_unload(deflt);
  return all ? 0 : 1;
}
