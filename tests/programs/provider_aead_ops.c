/* One exit per AEAD operation, by a program: loads "cryptine" from argv[1] (a
   -provider-path directory) and "default", then by argv[2]:
   - "ops CIPHER N KIND": N operations of one kind, each against the default provider's
     bytes, tags and return values. The caller counts the virtine calls of two runs with
     different N: the operations' own cost is their difference. KIND:
       seal     as libssl makes it (IV length, init with a new IV, AAD, update, final,
                get the tag): 1 call, the final predicted with the update;
       speed    as openssl speed -evp makes it (padding off, IV length, init with key and
                IV, update in place, final): 1 call;
       open     as libssl's TLS 1.3 makes it (init with the IV, set the tag, AAD, update,
                final): 1 call;
       flipped  the same with a flipped tag: refused (as natively, no error queued), 1 call;
       late     the tag set after the update (common EVP usage): 2 calls, since the guest
                never hands out an open's expected tag;
       twice    a seal in two updates: the first prediction broken, 2 calls;
       dup      a seal whose context is copied between update and final, both finalised:
                the prediction dropped, more calls, the same bytes and tags.
   - "after CIPHER": after a final served from its prediction the guest's context took
     that final too: a 12-byte tag read (served by the guest) and an update without a new
     IV behave as natively.
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

#include "provider_test.h"

#define MSG_LEN 1024
static unsigned char key[32], iv[12], aad[13], msg[MSG_LEN];
static int all = 1;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  all &= ok;
}

/* One sealing operation as openssl speed makes it (key and IV at every init), in `parts`
   updates; returns 1 with ct and tag filled. */
static int seal_op(EVP_CIPHER_CTX* ctx, int gcm, int parts, unsigned char* ct, unsigned char* tag) {
  int n = 0, n2 = 0, f = 0, dummy;
  const int first = parts == 2 ? MSG_LEN / 2 : MSG_LEN;
  return (!gcm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, sizeof(iv), NULL) > 0) &&
         EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, -1) && EVP_EncryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) &&
         EVP_EncryptUpdate(ctx, ct, &n, msg, first) &&
         (first == MSG_LEN || EVP_EncryptUpdate(ctx, ct + n, &n2, msg + first, MSG_LEN - first)) &&
         EVP_EncryptFinal_ex(ctx, ct + n + n2, &f) && n + n2 + f == MSG_LEN &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
}

/* One opening operation, the tag set before the data (tag_first, as libssl's TLS 1.3) or
   after it; returns the final's return value, or -1 if a call before it failed. The
   plaintext goes to pt. */
static int open_op(EVP_CIPHER_CTX* ctx, const unsigned char* ct, const unsigned char* tag, int tag_first,
                   unsigned char* pt) {
  unsigned char t[16];
  int n = 0, f = 0, dummy;
  memcpy(t, tag, sizeof(t));
  if (!EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) ||
      (tag_first && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, t) <= 0) ||
      !EVP_DecryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) || !EVP_DecryptUpdate(ctx, pt, &n, ct, MSG_LEN) ||
      (!tag_first && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, t) <= 0) || n != MSG_LEN)
    return -1;
  return EVP_DecryptFinal_ex(ctx, pt + n, &f) > 0 && f == 0;
}

struct pair {
  EVP_CIPHER *c, *d;
  EVP_CIPHER_CTX *ctx, *native;
  int gcm;
};

/* Both providers' cipher and a context each, keyed for `enc`. */
static int pair_open(struct pair* p, const char* name, int enc) {
  p->c = EVP_CIPHER_fetch(NULL, name, "provider=cryptine");
  p->d = EVP_CIPHER_fetch(NULL, name, "provider=default");
  p->ctx = EVP_CIPHER_CTX_new();
  p->native = EVP_CIPHER_CTX_new();
  p->gcm = p->c != NULL && EVP_CIPHER_get_mode(p->c) == EVP_CIPH_GCM_MODE;
  return p->c != NULL && p->d != NULL && p->ctx != NULL && p->native != NULL &&
         EVP_CipherInit_ex(p->ctx, p->c, NULL, key, NULL, enc) &&
         EVP_CipherInit_ex(p->native, p->d, NULL, key, NULL, enc);
}

static void pair_close(struct pair* p) {
  EVP_CIPHER_CTX_free(p->ctx);
  EVP_CIPHER_CTX_free(p->native);
  EVP_CIPHER_free(p->c);
  EVP_CIPHER_free(p->d);
}

static void ops(const char* name, int count, const char* kind) {
  struct pair p;
  const int sealing =
      strcmp(kind, "seal") == 0 || strcmp(kind, "twice") == 0 || strcmp(kind, "dup") == 0 || strcmp(kind, "speed") == 0;
  int ok = pair_open(&p, name, sealing);
  check(ok, "fetched and keyed in both providers");
  unsigned char ct[MSG_LEN + 32], want[MSG_LEN + 32], tag[16], want_tag[16], pt[MSG_LEN + 32];
  int same = ok;
  for (int i = 0; ok && i < count; ++i) {
    iv[0] = (unsigned char)i;
    if (strcmp(kind, "dup") == 0) {
      /* update, copy, then finalise both: each as the native context would. */
      EVP_CIPHER_CTX* copy = EVP_CIPHER_CTX_new();
      unsigned char tag2[16];
      int n = 0, f = 0, f2 = 0, dummy;
      ok = copy != NULL && (!p.gcm || EVP_CIPHER_CTX_ctrl(p.ctx, EVP_CTRL_AEAD_SET_IVLEN, sizeof(iv), NULL) > 0) &&
           EVP_CipherInit_ex(p.ctx, NULL, NULL, key, iv, -1) &&
           EVP_EncryptUpdate(p.ctx, NULL, &dummy, aad, sizeof(aad)) && EVP_EncryptUpdate(p.ctx, ct, &n, msg, MSG_LEN) &&
           EVP_CIPHER_CTX_copy(copy, p.ctx) && EVP_EncryptFinal_ex(p.ctx, ct + n, &f) &&
           EVP_CIPHER_CTX_ctrl(p.ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0 && EVP_EncryptFinal_ex(copy, ct + n, &f2) &&
           EVP_CIPHER_CTX_ctrl(copy, EVP_CTRL_AEAD_GET_TAG, 16, tag2) > 0 &&
           seal_op(p.native, p.gcm, 1, want, want_tag);
      same = same && ok && n + f == MSG_LEN && f2 == 0 && memcmp(ct, want, MSG_LEN) == 0 &&
             memcmp(tag, want_tag, 16) == 0 && memcmp(tag2, want_tag, 16) == 0;
      EVP_CIPHER_CTX_free(copy);
    } else if (strcmp(kind, "speed") == 0) {
      /* As openssl speed -evp: padding off (EVP sets it again at every init), in place, no
         AAD, no tag read. */
      unsigned char buf[MSG_LEN + 32];
      int n = 0, f = 0;
      memcpy(buf, msg, MSG_LEN);
      ok = EVP_CIPHER_CTX_set_padding(p.ctx, 0) &&
           (!p.gcm || EVP_CIPHER_CTX_ctrl(p.ctx, EVP_CTRL_AEAD_SET_IVLEN, sizeof(iv), NULL) > 0) &&
           EVP_CipherInit_ex(p.ctx, NULL, NULL, key, iv, -1) && EVP_EncryptUpdate(p.ctx, buf, &n, buf, MSG_LEN) &&
           EVP_EncryptFinal_ex(p.ctx, buf, &f) && seal_op(p.native, p.gcm, 1, want, want_tag);
      same = same && ok;
    } else if (sealing) {
      const int parts = strcmp(kind, "twice") == 0 ? 2 : 1;
      ok = seal_op(p.ctx, p.gcm, parts, ct, tag) && seal_op(p.native, p.gcm, 1, want, want_tag);
      same = same && ok && memcmp(ct, want, MSG_LEN) == 0 && memcmp(tag, want_tag, 16) == 0;
    } else {
      /* The ciphertext and tag from the default provider; the cryptine context opens it. */
      EVP_CIPHER_CTX* s = EVP_CIPHER_CTX_new();
      ok = s != NULL && EVP_EncryptInit_ex(s, p.d, NULL, key, NULL) && seal_op(s, p.gcm, 1, want, want_tag);
      EVP_CIPHER_CTX_free(s);
      if (strcmp(kind, "flipped") == 0) want_tag[i % 16] ^= 1;
      const int tag_first = strcmp(kind, "late") != 0;
      const int got = ok ? open_op(p.ctx, want, want_tag, tag_first, pt) : -1;
      const int queued = ERR_peek_error() != 0;
      if (got < 0) ERR_print_errors_fp(stderr); /* for the caller: what stopped it */
      ERR_clear_error();
      const int expect = ok ? open_op(p.native, want, want_tag, tag_first, ct) : -1;
      const int expect_queued = ERR_peek_error() != 0;
      ERR_clear_error();
      ok = ok && got >= 0;
      same = same && ok && got == expect && queued == expect_queued &&
             (strcmp(kind, "flipped") == 0 ? got == 0 : got == 1 && memcmp(pt, msg, MSG_LEN) == 0);
    }
  }
  if (!ok) ERR_print_errors_fp(stderr); /* for the caller: what stopped it */
  check(ok, "every operation ran");
  check(same, strcmp(kind, "flipped") == 0 ? "every flipped tag refused, as natively (no error queued)"
                                           : "the default provider's bytes, tags and verdicts");
  ERR_clear_error();
  pair_close(&p);
}

/* After a final served from its prediction, the guest's context is as after a final. */
static void after(const char* name) {
  struct pair p;
  int ok = pair_open(&p, name, 1);
  unsigned char ct[MSG_LEN + 32], want[MSG_LEN + 32], tag[16], want_tag[16], t12[12], want12[12];
  ok = ok && seal_op(p.ctx, p.gcm, 1, ct, tag) && seal_op(p.native, p.gcm, 1, want, want_tag);
  check(ok && memcmp(ct, want, MSG_LEN) == 0 && memcmp(tag, want_tag, 16) == 0, "a sealing operation, as natively");
  const int got12 = EVP_CIPHER_CTX_ctrl(p.ctx, EVP_CTRL_AEAD_GET_TAG, 12, t12);
  const int want12_ret = EVP_CIPHER_CTX_ctrl(p.native, EVP_CTRL_AEAD_GET_TAG, 12, want12);
  check(ok && got12 == want12_ret && (got12 <= 0 || memcmp(t12, want12, 12) == 0),
        "then a 12-byte tag read (from the guest) as natively");
  ERR_clear_error();
  int n = 0, wn = 0;
  const int upd = EVP_EncryptUpdate(p.ctx, ct, &n, msg, 64);
  const int want_upd = EVP_EncryptUpdate(p.native, want, &wn, msg, 64);
  printf("# update after the final without a new IV: %d (natively %d)\n", upd, want_upd);
  check(ok && upd == want_upd && (upd == 0 || (n == wn && memcmp(ct, want, (size_t)n) == 0)),
        "then an update without a new IV as natively");
  ERR_clear_error();
  pair_close(&p);
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
  OSSL_PROVIDER *prov, *deflt;
  if (!load_providers(argv[1], &prov, &deflt)) return 1;
  fill(key, sizeof(key), 3, 1);
  fill(iv, sizeof(iv), 7, 2);
  fill(aad, sizeof(aad), 11, 3);
  fill(msg, sizeof(msg), 13, 5);
  if (strcmp(argv[2], "ops") == 0 && argc == 6)
    ops(argv[3], atoi(argv[4]), argv[5]);
  else if (strcmp(argv[2], "after") == 0 && argc == 4)
    after(argv[3]);
  else if (strcmp(argv[2], "badlen") == 0) badlen(prov);
  else if (strcmp(argv[2], "failstep") == 0) failstep();
  else return 2;
  OSSL_PROVIDER_unload(prov);
  OSSL_PROVIDER_unload(deflt);
  return all ? 0 : 1;
}
