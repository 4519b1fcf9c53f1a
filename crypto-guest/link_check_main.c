/* cryptine: the guest program of crypto-guest/link-check. Linking it proves the guest
 * toolchain (entry.asm + syscalls.c + libcrypto.a + newlib); run in a virtine it also
 * checks the crypto: SHA-256("abc") and AES-128-GCM (GCM spec test case 2) with EVP.
 * Mailbox on return: [0,32) the digest, [32,48) the ciphertext, [48,64) the tag.
 * Exit status: 0 all good, 1 init failed, 2 digest wrong, 3 AES-GCM wrong. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "hypercall.h"

static const unsigned char kSha256Abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                             0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                             0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
/* Key 0^128, IV 0^96, plaintext 0^128 (McGrew & Viega, GCM test case 2). */
static const unsigned char kGcmCiphertext[16] = {0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92,
                                                 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78};
static const unsigned char kGcmTag[16] = {0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd,
                                          0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf};

static int aes_128_gcm(unsigned char out[16], unsigned char tag[16]) {
  static const unsigned char key[16], iv[12], in[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) == 1 &&
           EVP_EncryptUpdate(ctx, out, &len, in, sizeof in) == 1 && EVP_EncryptFinal_ex(ctx, out + len, &fin) == 1 &&
           len + fin == 16 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

int main(void) {
  unsigned char* mailbox = (unsigned char*)(uintptr_t)CRYPTINE_MAILBOX_ADDR;
  if (OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS, NULL) != 1) return 1;

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest("abc", 3, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) return 2;
  memcpy(mailbox, md, 32);
  if (memcmp(md, kSha256Abc, 32) != 0) return 2;

  unsigned char ct[16], tag[16];
  if (!aes_128_gcm(ct, tag)) return 3;
  memcpy(mailbox + 32, ct, 16);
  memcpy(mailbox + 48, tag, 16);
  if (memcmp(ct, kGcmCiphertext, 16) != 0 || memcmp(tag, kGcmTag, 16) != 0) return 3;

  printf("link-check guest: %s, SHA-256 and AES-128-GCM ok\n", OpenSSL_version(OPENSSL_VERSION));
  return 0;
}
