/* The provider's ciphers through EVP, against the default provider's bytes: loads
   "cryptine" from argv[1] (a -provider-path directory) and "default"; for AES-128-GCM,
   AES-256-GCM and ChaCha20-Poly1305 fetched with "provider=cryptine": the same fixed facts,
   encryption with AAD (ciphertext and tag), decryption with the tag (succeeds) and with a
   flipped tag (fails), a context copied mid-stream (EVP_CIPHER_CTX_copy: the provider's
   dupctx), an in-place update (out == in), and for GCM a 16-byte IV; for AES-128-CBC the
   one-shot EVP_Cipher and the updated IV. Prints one line per check; exits 0 only if all
   hold. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <string.h>

#include "provider_test.h"

#define MSG_LEN 1000
static unsigned char key[32], iv[16], aad[29], msg[MSG_LEN];
static int all = 1;

static void check(int ok, const char* cipher, const char* what) {
  printf("%s %s: %s\n", ok ? "ok  " : "FAIL", cipher, what);
  all &= ok;
}

static EVP_CIPHER* fetch(const char* name, const char* provider) {
  char query[32];
  snprintf(query, sizeof(query), "provider=%s", provider);
  return EVP_CIPHER_fetch(NULL, name, query);
}

/* Sets a non-default IV length first when ivlen > 0. */
static int start(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* c, int enc, int ivlen) {
  if (!EVP_CipherInit_ex2(ctx, c, NULL, NULL, enc, NULL)) return 0;
  if (ivlen > 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, ivlen, NULL) <= 0) return 0;
  return EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL);
}

/* AEAD encryption of msg with aad in two updates (the second `split` bytes on);
   returns the ciphertext length, or -1. */
static int seal(const EVP_CIPHER* c, int ivlen, unsigned char* ct, unsigned char* tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, m = 0, f = 0, dummy;
  int ok = ctx != NULL && start(ctx, c, 1, ivlen) && EVP_EncryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) &&
           EVP_EncryptUpdate(ctx, ct, &n, msg, 333) && EVP_EncryptUpdate(ctx, ct + n, &m, msg + 333, MSG_LEN - 333) &&
           EVP_EncryptFinal_ex(ctx, ct + n + m, &f) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
  EVP_CIPHER_CTX_free(ctx);
  return ok ? n + m + f : -1;
}

/* AEAD decryption; returns whether the tag verified and the plaintext is msg. */
static int open_with(const EVP_CIPHER* c, int ivlen, const unsigned char* ct, int len, const unsigned char* tag) {
  unsigned char pt[MSG_LEN + 32];
  unsigned char t[16];
  memcpy(t, tag, sizeof(t));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, f = 0, dummy;
  int ok = ctx != NULL && start(ctx, c, 0, ivlen) && EVP_DecryptUpdate(ctx, NULL, &dummy, aad, sizeof(aad)) &&
           EVP_DecryptUpdate(ctx, pt, &n, ct, len) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, t) > 0 &&
           EVP_DecryptFinal_ex(ctx, pt + n, &f) > 0;
  EVP_CIPHER_CTX_free(ctx);
  return ok && n + f == MSG_LEN && memcmp(pt, msg, MSG_LEN) == 0;
}

static void aead(const char* name, int ivlen) {
  char label[64];
  snprintf(label, sizeof(label), ivlen > 0 ? "%s (IV of %d bytes)" : "%s", name, ivlen);
  EVP_CIPHER* c = fetch(name, "cryptine");
  EVP_CIPHER* d = fetch(name, "default");
  if (c == NULL || d == NULL) {
    check(0, label, "fetched from both providers");
    EVP_CIPHER_free(c);
    EVP_CIPHER_free(d);
    return;
  }
  check(strcmp(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(c)), "cryptine") == 0, label, "served by cryptine");
  check(EVP_CIPHER_get_key_length(c) == EVP_CIPHER_get_key_length(d) &&
            EVP_CIPHER_get_iv_length(c) == EVP_CIPHER_get_iv_length(d) &&
            EVP_CIPHER_get_block_size(c) == EVP_CIPHER_get_block_size(d) &&
            EVP_CIPHER_get_mode(c) == EVP_CIPHER_get_mode(d) && EVP_CIPHER_get_flags(c) == EVP_CIPHER_get_flags(d),
        label, "fixed facts as the default provider's");

  unsigned char ct[MSG_LEN + 32], want[MSG_LEN + 32], tag[16], want_tag[16];
  int len = seal(c, ivlen, ct, tag), want_len = seal(d, ivlen, want, want_tag);
  check(len == MSG_LEN && want_len == MSG_LEN && memcmp(ct, want, MSG_LEN) == 0, label, "ciphertext as native");
  check(len == MSG_LEN && memcmp(tag, want_tag, 16) == 0, label, "tag as native");
  check(open_with(c, ivlen, ct, len, tag), label, "decrypts with the tag");
  tag[5] ^= 1;
  check(!open_with(c, ivlen, ct, len, tag), label, "refuses a flipped tag");

  /* A copy made mid-stream finishes like the original. */
  EVP_CIPHER_CTX* a = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* b = EVP_CIPHER_CTX_new();
  unsigned char ca[MSG_LEN + 32], cb[MSG_LEN + 32], ta[16], tb[16];
  int n = 0, fa = 0, fb = 0, na = 0, nb = 0, dummy;
  int ok = a != NULL && b != NULL && start(a, c, 1, ivlen) && EVP_EncryptUpdate(a, NULL, &dummy, aad, sizeof(aad)) &&
           EVP_EncryptUpdate(a, ca, &n, msg, 333) && EVP_CIPHER_CTX_copy(b, a);
  memcpy(cb, ca, (size_t)n);
  ok = ok && EVP_EncryptUpdate(a, ca + n, &na, msg + 333, MSG_LEN - 333) && EVP_EncryptFinal_ex(a, ca + n + na, &fa) &&
       EVP_CIPHER_CTX_ctrl(a, EVP_CTRL_AEAD_GET_TAG, 16, ta) > 0 &&
       EVP_EncryptUpdate(b, cb + n, &nb, msg + 333, MSG_LEN - 333) && EVP_EncryptFinal_ex(b, cb + n + nb, &fb) &&
       EVP_CIPHER_CTX_ctrl(b, EVP_CTRL_AEAD_GET_TAG, 16, tb) > 0;
  check(ok && n + na + fa == MSG_LEN && memcmp(ca, want, MSG_LEN) == 0 && memcmp(ta, want_tag, 16) == 0, label,
        "copied mid-stream: the original as native");
  check(ok && n + nb + fb == MSG_LEN && memcmp(cb, want, MSG_LEN) == 0 && memcmp(tb, want_tag, 16) == 0, label,
        "copied mid-stream: the copy as native");
  EVP_CIPHER_CTX_free(a);
  EVP_CIPHER_CTX_free(b);

  /* In place: the output buffer is the input. */
  unsigned char buf[MSG_LEN + 32];
  memcpy(buf, msg, MSG_LEN);
  a = EVP_CIPHER_CTX_new();
  ok = a != NULL && start(a, c, 1, ivlen) && EVP_EncryptUpdate(a, NULL, &dummy, aad, sizeof(aad)) &&
       EVP_EncryptUpdate(a, buf, &n, buf, MSG_LEN) && EVP_EncryptFinal_ex(a, buf + n, &fa) &&
       EVP_CIPHER_CTX_ctrl(a, EVP_CTRL_AEAD_GET_TAG, 16, ta) > 0;
  check(ok && n == MSG_LEN && memcmp(buf, want, MSG_LEN) == 0 && memcmp(ta, want_tag, 16) == 0, label,
        "in place: as native");
  EVP_CIPHER_CTX* native = EVP_CIPHER_CTX_new();
  int native_ok = native != NULL && start(native, d, 1, ivlen);
  check(ok && native_ok && EVP_CIPHER_CTX_get_tag_length(a) == EVP_CIPHER_CTX_get_tag_length(native), label,
        "tag length as native");
  EVP_CIPHER_CTX_free(native);
  EVP_CIPHER_CTX_free(a);
  EVP_CIPHER_free(c);
  EVP_CIPHER_free(d);
}

/* AES-128-CBC without padding by EVP_Cipher (the provider's one-shot entry), then the
   updated IV, each against the default provider's. */
static int cbc_oneshot(const char* provider, unsigned char* out, unsigned char* updated_iv) {
  EVP_CIPHER* c = fetch("AES-128-CBC", provider);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int ok = c != NULL && ctx != NULL && EVP_EncryptInit_ex2(ctx, c, key, iv, NULL) &&
           EVP_CIPHER_CTX_set_padding(ctx, 0) && EVP_Cipher(ctx, out, msg, 512) == 512 &&
           EVP_CIPHER_CTX_get_updated_iv(ctx, updated_iv, 16);
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(c);
  return ok;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  OSSL_PROVIDER *prov, *deflt;
  if (!load_providers(argv[1], &prov, &deflt)) return 1;
  fill(key, sizeof(key), 3, 1);
  fill(iv, sizeof(iv), 7, 2);
  fill(aad, sizeof(aad), 11, 3);
  fill(msg, sizeof(msg), 13, 5);

  aead("AES-128-GCM", 0);
  aead("AES-256-GCM", 0);
  aead("ChaCha20-Poly1305", 0);
  aead("AES-128-GCM", 16);

  unsigned char got[512], want[512], got_iv[16], want_iv[16];
  int ok = cbc_oneshot("cryptine", got, got_iv), want_ok = cbc_oneshot("default", want, want_iv);
  check(ok && want_ok && memcmp(got, want, sizeof(got)) == 0, "AES-128-CBC", "EVP_Cipher as native");
  check(ok && want_ok && memcmp(got_iv, want_iv, sizeof(got_iv)) == 0, "AES-128-CBC", "updated IV as native");

  OSSL_PROVIDER_unload(prov);
  OSSL_PROVIDER_unload(deflt);
  return all ? 0 : 1;
}
