/* Bad input and refused operations from an unmodified program, for the shim's error test.
 * Each case prints its return value and the last error on OpenSSL's queue (library and
 * reason), so a run under libcryptine.so can be compared line for line with a native run.
 *
 *   bad-input            the cases OpenSSL itself survives (compared with native)
 *   bad-input --hostile  NULL buffers with non-zero lengths, which crash native OpenSSL:
 *                        the shim must refuse them with an error and go on
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

static unsigned char key[32], iv[16], buf[256], out[512], tag[16];

static void report(const char* name, long ret) {
  const unsigned long e = ERR_peek_last_error();
  printf("%-40s ret=%ld err=%d:%d\n", name, ret, e ? ERR_GET_LIB(e) : 0, e ? ERR_GET_REASON(e) : 0);
  ERR_clear_error();
}

static EVP_CIPHER_CTX* cipher(const EVP_CIPHER* c, int enc) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL || !EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc)) {
    printf("set-up failed\n");
    return NULL;
  }
  return ctx;
}

static void cipher_cases(void) {
  int n = 0, f = 0;
  EVP_CIPHER_CTX* ctx = cipher(EVP_aes_128_cbc(), 1);
  report("encrypt update, negative length", EVP_EncryptUpdate(ctx, out, &n, buf, -1));
  report("encrypt update, NULL outl", EVP_EncryptUpdate(ctx, out, NULL, buf, 16));
  report("decrypt update on an encrypting context", EVP_DecryptUpdate(ctx, out, &n, buf, 16));
  report("encrypt final", EVP_EncryptFinal_ex(ctx, out, &f));
  report("encrypt update after final", EVP_EncryptUpdate(ctx, out, &n, buf, 16));
  report("  ... its output length", n);
  report("key length 7 on AES-128", EVP_CIPHER_CTX_set_key_length(ctx, 7));
  EVP_CIPHER_CTX_free(ctx);

  /* CBC: a ciphertext whose padding is wrong. */
  ctx = cipher(EVP_aes_128_cbc(), 1);
  EVP_EncryptUpdate(ctx, out, &n, buf, 20);
  EVP_EncryptFinal_ex(ctx, out + n, &f);
  const int clen = n + f;
  EVP_CIPHER_CTX_free(ctx);
  out[clen - 1] ^= 0x55;
  ctx = cipher(EVP_aes_128_cbc(), 0);
  unsigned char plain[512];
  report("cbc decrypt update, corrupt last block", EVP_DecryptUpdate(ctx, plain, &n, out, clen));
  report("cbc decrypt final, bad padding", EVP_DecryptFinal_ex(ctx, plain + n, &f));
  EVP_CIPHER_CTX_free(ctx);

  /* GCM: a wrong tag, no tag, a bad IV length, an oversized tag. */
  ctx = cipher(EVP_aes_128_gcm(), 1);
  EVP_EncryptUpdate(ctx, out, &n, buf, 40);
  EVP_EncryptFinal_ex(ctx, out + n, &f);
  report("gcm get tag", EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag));
  report("gcm get tag of 17 bytes", EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 17, tag));
  report("gcm set tag of 1 GiB", EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 1 << 30, tag));
  report("gcm unknown ctrl 0x7f", EVP_CIPHER_CTX_ctrl(ctx, 0x7f, 0, NULL));
  EVP_CIPHER_CTX_free(ctx);
  tag[0] ^= 1;
  ctx = cipher(EVP_aes_128_gcm(), 0);
  report("gcm decrypt update", EVP_DecryptUpdate(ctx, plain, &n, out, 40));
  report("gcm set the wrong tag", EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag));
  report("gcm decrypt final, wrong tag", EVP_DecryptFinal_ex(ctx, plain + n, &f));
  EVP_CIPHER_CTX_free(ctx);
  ctx = cipher(EVP_aes_128_gcm(), 0);
  report("gcm decrypt final, no tag set", EVP_DecryptFinal_ex(ctx, plain, &f));
  report("gcm iv length 0", EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 0, NULL));
  size_t big = 1u << 20;
  OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_KEYLEN, &big), OSSL_PARAM_construct_end()};
  report("gcm set_params keylen 1 MiB", EVP_CIPHER_CTX_set_params(ctx, p));
  EVP_CIPHER_CTX_free(ctx);

  /* A context used before any init. */
  ctx = EVP_CIPHER_CTX_new();
  report("update before init", EVP_EncryptUpdate(ctx, out, &n, buf, 16));
  report("final before init", EVP_EncryptFinal_ex(ctx, out, &f));
  EVP_CIPHER_CTX_free(ctx);
}

static void digest_and_mac_cases(void) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  size_t len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  report("digest update before init, empty", EVP_DigestUpdate(ctx, NULL, 0));
  report("digest final before init", EVP_DigestFinal_ex(ctx, md, &mdlen));
  report("digest init sha256", EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
  report("digest update NULL, 0", EVP_DigestUpdate(ctx, NULL, 0));
  report("digest final", EVP_DigestFinal_ex(ctx, md, &mdlen));
  report("  ... its length", mdlen);
  EVP_MD_CTX_free(ctx);
  report("one-shot digest of NULL, 0", EVP_Digest(NULL, 0, md, &mdlen, EVP_sha256(), NULL));

  EVP_MAC* hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(hmac);
  report("mac init without a digest", EVP_MAC_init(mac, key, 32, NULL));
  OSSL_PARAM d[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end()};
  report("mac set digest", EVP_MAC_CTX_set_params(mac, d));
  OSSL_PARAM bad[] = {OSSL_PARAM_construct_utf8_string("digest", "NO-SUCH-DIGEST", 0), OSSL_PARAM_construct_end()};
  report("mac set an unknown digest", EVP_MAC_CTX_set_params(mac, bad));
  report("mac init NULL key, length 5 (no key)", EVP_MAC_init(mac, NULL, 5, NULL));
  report("mac init", EVP_MAC_init(mac, key, 32, NULL));
  report("mac final into 31 bytes", EVP_MAC_final(mac, md, &len, 31));
  /* OpenSSL 3.0 leaves a stray "message digest is null" on the queue here while it
   * succeeds: the return value and the size are what is compared. */
  const int sized = EVP_MAC_final(mac, NULL, &len, 0);
  ERR_clear_error();
  report("mac final size query", sized);
  report("  ... the size", (long)len);
  EVP_MAC_CTX_free(mac);
  EVP_MAC_free(hmac);
}

static void pkey_cases(void) {
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new(rsa, NULL);
  unsigned char sig[512];
  size_t siglen = sizeof(sig);
  report("sign before sign_init", EVP_PKEY_sign(pctx, sig, &siglen, buf, 32));
  EVP_PKEY_sign_init(pctx);
  siglen = 100;
  report("sign into 100 bytes", EVP_PKEY_sign(pctx, sig, &siglen, buf, 32));
  siglen = sizeof(sig);
  EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256());
  report("sign a 31-byte SHA-256 digest", EVP_PKEY_sign(pctx, sig, &siglen, buf, 31));
  EVP_PKEY_CTX_free(pctx);
  pctx = EVP_PKEY_CTX_new(rsa, NULL);
  EVP_PKEY_decrypt_init(pctx);
  size_t outlen = sizeof(out);
  memset(out, 0x42, 256);
  report("decrypt garbage (PKCS#1)", EVP_PKEY_decrypt(pctx, out, &outlen, out, 256) > 0 ? 1 : 0);
  EVP_PKEY_CTX_free(pctx);
  EVP_PKEY_free(rsa);
}

/* Crash native OpenSSL (it reads the NULL buffer): the shim refuses them. */
static void hostile_cases(void) {
  int n = 0;
  EVP_CIPHER_CTX* c = cipher(EVP_aes_128_ctr(), 1);
  report("encrypt update, NULL in, length 16", EVP_EncryptUpdate(c, out, &n, NULL, 16));
  report("EVP_Cipher, NULL in, length 16", EVP_Cipher(c, out, NULL, 16));
  report("after them, a good update", EVP_EncryptUpdate(c, out, &n, buf, 16));
  EVP_CIPHER_CTX_free(c);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  report("digest update, NULL data, length 5", EVP_DigestUpdate(md, NULL, 5));
  EVP_MD_CTX_free(md);
  EVP_MAC* hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(hmac);
  OSSL_PARAM d[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end()};
  EVP_MAC_init(mac, key, 32, d);
  report("mac update, NULL data, length 5", EVP_MAC_update(mac, NULL, 5));
  EVP_MAC_CTX_free(mac);
  EVP_MAC_free(hmac);
}

int main(int argc, char** argv) {
  for (int i = 0; i < 32; ++i) key[i] = (unsigned char)i;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "--hostile") == 0) {
    hostile_cases();
    return 0;
  }
  cipher_cases();
  digest_and_mac_cases();
  pkey_cases();
  return 0;
}
