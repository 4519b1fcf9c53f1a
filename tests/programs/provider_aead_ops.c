/* One exit per AEAD operation, by a program: loads "cryptine" from argv[1] (a
   -provider-path directory) and "default", then by argv[2]:
   - "ops CIPHER N": N sealing operations as openssl speed and libssl make them (IV length,
     init with a new IV, AAD, update, final, get the tag), then N opening operations (init,
     AAD, update, set the tag, final), each against the default provider's bytes and tags;
     the last opening with a flipped tag must fail (as natively, with no error queued). The caller counts the virtine calls of
     two runs with different N: the operations' own cost is their difference.
   - "badlen": an init with a key or IV of a length the cipher does not have, on a context
     the guest already holds (so it could have been recorded), fails on that call, through
     the provider's own dispatch table (EVP always passes the lengths it was told).
   - "failstep": a guest that refuses every recorded AAD (tests/guests/failstep-AAD.elf):
     the AAD call succeeds (recorded), the update that carries it fails, with an error.
   Prints one line per check; exits 0 only if all hold. */
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN 1024
static unsigned char key[32], iv[12], aad[13], msg[MSG_LEN];
static int all = 1;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  all &= ok;
}

/* One sealing operation as openssl speed makes it (key and IV at every init); returns 1
   with ct and tag filled. */
static int seal_op(EVP_CIPHER_CTX* ctx, int gcm, unsigned char* ct, unsigned char* tag) {
  int n = 0, f = 0, dummy;
  return (!gcm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, sizeof(iv), NULL) > 0) &&
         EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, -1) && EVP_EncryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) &&
         EVP_EncryptUpdate(ctx, ct, &n, msg, MSG_LEN) && EVP_EncryptFinal_ex(ctx, ct + n, &f) && n + f == MSG_LEN &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
}

/* One opening operation; returns whether the tag verified and the plaintext is msg. */
static int open_op(EVP_CIPHER_CTX* ctx, const unsigned char* ct, const unsigned char* tag) {
  unsigned char pt[MSG_LEN + 32], t[16];
  int n = 0, f = 0, dummy;
  memcpy(t, tag, sizeof(t));
  return EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) && EVP_DecryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) &&
         EVP_DecryptUpdate(ctx, pt, &n, ct, MSG_LEN) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, t) > 0 &&
         EVP_DecryptFinal_ex(ctx, pt + n, &f) > 0 && n + f == MSG_LEN && memcmp(pt, msg, MSG_LEN) == 0;
}

static void ops(const char* name, int count) {
  EVP_CIPHER* c = EVP_CIPHER_fetch(NULL, name, "provider=cryptine");
  EVP_CIPHER* d = EVP_CIPHER_fetch(NULL, name, "provider=default");
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* native = EVP_CIPHER_CTX_new();
  const int gcm = c != NULL && EVP_CIPHER_get_mode(c) == EVP_CIPH_GCM_MODE;
  unsigned char ct[MSG_LEN + 32], want[MSG_LEN + 32], tag[16], want_tag[16];
  int ok = c != NULL && d != NULL && ctx != NULL && native != NULL && EVP_EncryptInit_ex(ctx, c, NULL, key, NULL) &&
           EVP_EncryptInit_ex(native, d, NULL, key, NULL);
  check(ok, "fetched and keyed in both providers");
  int same = ok;
  for (int i = 0; ok && i < count; ++i) {
    iv[0] = (unsigned char)i;
    ok = seal_op(ctx, gcm, ct, tag) && seal_op(native, gcm, want, want_tag);
    same = same && ok && memcmp(ct, want, MSG_LEN) == 0 && memcmp(tag, want_tag, 16) == 0;
  }
  if (!ok) ERR_print_errors_fp(stderr);  /* for the caller: what stopped it */
  check(ok && same, "sealing operations give the default provider's bytes and tags");
  int opened = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, key, NULL);
  for (int i = 0; opened && i < count; ++i) opened = open_op(ctx, ct, tag);  /* iv as the last seal's */
  check(opened, "opening operations verify and give the plaintext");
  tag[3] ^= 1;
  check(opened && !open_op(ctx, ct, tag), "opening with a flipped tag fails");
  ERR_clear_error();
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_CTX_free(native);
  EVP_CIPHER_free(c);
  EVP_CIPHER_free(d);
}

/* The provider's AES-128-GCM dispatch table, as OpenSSL's core sees it. */
static const OSSL_DISPATCH* gcm_functions(OSSL_PROVIDER* prov) {
  int no_cache = 0;
  const OSSL_ALGORITHM* a = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache);
  for (; a != NULL && a->algorithm_names != NULL; ++a)
    if (strncmp(a->algorithm_names, "AES-128-GCM:", 12) == 0) return a->implementation;
  return NULL;
}

static void badlen(OSSL_PROVIDER* prov) {
  OSSL_FUNC_cipher_newctx_fn* newctx = NULL;
  OSSL_FUNC_cipher_encrypt_init_fn* einit = NULL;
  OSSL_FUNC_cipher_freectx_fn* freectx = NULL;
  for (const OSSL_DISPATCH* f = gcm_functions(prov); f != NULL && f->function_id != 0; ++f) {
    if (f->function_id == OSSL_FUNC_CIPHER_NEWCTX) newctx = OSSL_FUNC_cipher_newctx(f);
    if (f->function_id == OSSL_FUNC_CIPHER_ENCRYPT_INIT) einit = OSSL_FUNC_cipher_encrypt_init(f);
    if (f->function_id == OSSL_FUNC_CIPHER_FREECTX) freectx = OSSL_FUNC_cipher_freectx(f);
  }
  check(newctx != NULL && einit != NULL && freectx != NULL, "AES-128-GCM's dispatch table");
  if (newctx == NULL || einit == NULL || freectx == NULL) return;
  void* ctx = newctx(OSSL_PROVIDER_get0_provider_ctx(prov));
  check(ctx != NULL && einit(ctx, key, 16, iv, 12, NULL) == 1, "init with the right lengths");
  ERR_clear_error();
  check(ctx != NULL && einit(ctx, key, 15, NULL, 0, NULL) == 0 && ERR_peek_error() != 0,
        "a recordable init with a 15-byte key fails on the call, with an error");
  ERR_clear_error();
  check(ctx != NULL && einit(ctx, NULL, 0, iv, 11, NULL) == 0 && ERR_peek_error() != 0,
        "a recordable init with an 11-byte IV (12 set) fails on the call, with an error");
  ERR_clear_error();
  check(ctx != NULL && einit(ctx, NULL, 0, iv, 12, NULL) == 1, "then an init with the right IV succeeds");
  if (ctx != NULL) freectx(ctx);
}

static void failstep(void) {
  EVP_CIPHER* c = EVP_CIPHER_fetch(NULL, "AES-128-GCM", "provider=cryptine");
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char ct[MSG_LEN + 32];
  int n = 0, dummy = -1;
  int ok = c != NULL && ctx != NULL && EVP_EncryptInit_ex(ctx, c, NULL, key, NULL) &&
           EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv);
  check(ok, "keyed, then a recorded init with an IV");
  check(ok && EVP_EncryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) == 1 && dummy == (int)sizeof(aad),
        "the AAD is recorded: its call succeeds, all of it taken");
  ERR_clear_error();
  const int updated = ok ? EVP_EncryptUpdate(ctx, ct, &n, msg, MSG_LEN) : -1;
  const int raised = ERR_peek_error() != 0;
  ERR_print_errors_fp(stderr);  /* for the caller: the step named */
  check(updated == 0 && raised, "the update carrying the refused AAD fails, with an error");
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(c);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  OSSL_PROVIDER_set_default_search_path(NULL, argv[1]);
  OSSL_PROVIDER* prov = OSSL_PROVIDER_load(NULL, "cryptine");
  OSSL_PROVIDER* deflt = OSSL_PROVIDER_load(NULL, "default");
  if (prov == NULL || deflt == NULL) {
    printf("FAIL loading the providers\n");
    return 1;
  }
  for (size_t i = 0; i < sizeof(key); ++i) key[i] = (unsigned char)(3 * i + 1);
  for (size_t i = 0; i < sizeof(iv); ++i) iv[i] = (unsigned char)(7 * i + 2);
  for (size_t i = 0; i < sizeof(aad); ++i) aad[i] = (unsigned char)(11 * i + 3);
  for (size_t i = 0; i < sizeof(msg); ++i) msg[i] = (unsigned char)(13 * i + 5);
  if (strcmp(argv[2], "ops") == 0 && argc == 5) ops(argv[3], atoi(argv[4]));
  else if (strcmp(argv[2], "badlen") == 0) badlen(prov);
  else if (strcmp(argv[2], "failstep") == 0) failstep();
  else return 2;
  OSSL_PROVIDER_unload(prov);
  OSSL_PROVIDER_unload(deflt);
  return all ? 0 : 1;
}
