/* The low-level legacy API as an unmodified program uses it: AES_set_*_key, AES_encrypt,
 * AES_decrypt on the FIPS-197 known answers; AES_cbc_encrypt both ways with ivec carried
 * across calls and a partial last block; SHA{1,224,256,384,512}_Init/Update/Final over
 * several updates against known answers. Prints every output in hex (the shell test
 * compares a native run with a preloaded one) and exits 1 on a wrong known answer.
 *   legacy-api             the above
 *   legacy-api isolated    also: no key byte in the AES_KEYs, no state in the SHA256_CTX
 *   legacy-api liar-aes    expects AES_encrypt to fail (zeroed output, an error queued)
 *   legacy-api liar-sha    expects SHA256_Final to fail (returns 0) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/aes.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static int bad = 0;

static void hex(const char* label, const unsigned char* p, size_t n) {
  printf("%s ", label);
  for (size_t i = 0; i < n; ++i) printf("%02x", p[i]);
  printf("\n");
}

static void unhex(const char* s, unsigned char* out) {
  for (size_t i = 0; s[2 * i] != '\0'; ++i) sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void expect(const char* what, const unsigned char* got, const char* want_hex) {
  unsigned char want[64];
  size_t n = strlen(want_hex) / 2;
  unhex(want_hex, want);
  if (memcmp(got, want, n) != 0) {
    fprintf(stderr, "legacy-api: wrong %s\n", what);
    bad = 1;
  }
}

/* Whether any 4 consecutive key bytes, in either byte order, appear in the struct: a
 * native AES_KEY holds the key itself as its first round key. */
static int holds_bytes(const void* s, size_t size, const unsigned char* key, size_t n) {
  const unsigned char* p = s;
  for (size_t k = 0; k + 4 <= n; k += 4) {
    unsigned char rev[4] = {key[k + 3], key[k + 2], key[k + 1], key[k]};
    for (size_t i = 0; i + 4 <= size; ++i)
      if (memcmp(p + i, key + k, 4) == 0 || memcmp(p + i, rev, 4) == 0) return 1;
  }
  return 0;
}

static const char* const kCipher[] = {"69c4e0d86a7b0430d8cdb78070b4c55a", "dda97ca4864cdfe06eaf70a0ec0d7191",
                                      "8ea2b7ca516745bfeafc49904b496089"};

static void aes_known_answers(int isolated) {
  unsigned char key[32], pt[16], ct[16], back[16];
  for (int i = 0; i < 32; ++i) key[i] = (unsigned char)i;
  unhex("00112233445566778899aabbccddeeff", pt);
  for (int i = 0; i < 3; ++i) {
    const int bits = 128 + 64 * i;
    AES_KEY enc, dec;
    if (AES_set_encrypt_key(key, bits, &enc) != 0 || AES_set_decrypt_key(key, bits, &dec) != 0) {
      fprintf(stderr, "legacy-api: AES-%d set key failed\n", bits);
      bad = 1;
      continue;
    }
    if (isolated && (holds_bytes(&enc, sizeof(enc), key, (size_t)bits / 8) ||
                     holds_bytes(&dec, sizeof(dec), key, (size_t)bits / 8))) {
      fprintf(stderr, "legacy-api: AES-%d key bytes found in the AES_KEY\n", bits);
      bad = 1;
    }
    AES_encrypt(pt, ct, &enc);
    expect("AES block", ct, kCipher[i]);
    hex("aes-encrypt", ct, 16);
    AES_decrypt(ct, back, &dec);
    expect("AES inverse", back, "00112233445566778899aabbccddeeff");
    AES_encrypt(ct, ct, &enc); /* in place */
    hex("aes-encrypt-in-place", ct, 16);
  }
  unsigned char k[16];
  AES_KEY key_out;
  if (AES_set_encrypt_key(NULL, 128, &key_out) != -1 || AES_set_encrypt_key(k, 100, &key_out) != -2) {
    fprintf(stderr, "legacy-api: AES_set_encrypt_key's error returns differ from OpenSSL's\n");
    bad = 1;
  }
}

static void aes_cbc(void) {
  unsigned char key[32], iv[16], ivec[16], pt[80], ct[96], back[96];
  for (int i = 0; i < 32; ++i) key[i] = (unsigned char)(0xa0 + i);
  for (int i = 0; i < 16; ++i) iv[i] = (unsigned char)(0x10 * i);
  for (int i = 0; i < 80; ++i) pt[i] = (unsigned char)(i * 7 + 1);
  for (int bits = 128; bits <= 256; bits += 64) {
    AES_KEY enc, dec;
    AES_set_encrypt_key(key, bits, &enc);
    AES_set_decrypt_key(key, bits, &dec);
    memset(ct, 0, sizeof(ct));
    memcpy(ivec, iv, 16);
    AES_cbc_encrypt(pt, ct, 32, &enc, ivec, AES_ENCRYPT); /* two calls chained through ivec */
    hex("cbc-ivec-1", ivec, 16);
    AES_cbc_encrypt(pt + 32, ct + 32, 32, &enc, ivec, AES_ENCRYPT);
    hex("cbc-ivec-2", ivec, 16);
    AES_cbc_encrypt(pt + 64, ct + 64, 7, &enc, ivec, AES_ENCRYPT); /* partial: a whole block written */
    hex("cbc-ivec-3", ivec, 16);
    hex("cbc-ciphertext", ct, 80);
    memcpy(ivec, iv, 16);
    AES_cbc_encrypt(ct, back, 48, &dec, ivec, AES_DECRYPT);
    hex("cbc-dec-ivec-1", ivec, 16);
    AES_cbc_encrypt(ct + 48, back + 48, 32, &dec, ivec, AES_DECRYPT);
    hex("cbc-dec-ivec-2", ivec, 16);
    if (memcmp(back, pt, 64) != 0) {
      fprintf(stderr, "legacy-api: AES-%d-CBC does not decrypt back\n", bits);
      bad = 1;
    }
    memcpy(ivec, iv, 16);
    memcpy(back, ct, 80);
    AES_cbc_encrypt(back, back, 21, &dec, ivec, AES_DECRYPT); /* in place, partial last block */
    hex("cbc-dec-partial", back, 32);
    hex("cbc-dec-partial-ivec", ivec, 16);
    if (memcmp(back, pt, 21) != 0) bad = 1;
    AES_cbc_encrypt(pt, ct, 0, &enc, ivec, AES_ENCRYPT); /* nothing */
    hex("cbc-empty-ivec", ivec, 16);
  }
}

#define SHA_CASE(NAME, CTX, LEN, WANT)                        \
  do {                                                        \
    CTX c;                                                    \
    unsigned char md[LEN];                                    \
    if (!NAME##_Init(&c)) bad = 1;                            \
    NAME##_Update(&c, "a", 1);                                \
    NAME##_Update(&c, "", 0);                                 \
    NAME##_Update(&c, "bc", 2);                               \
    if (!NAME##_Final(md, &c)) bad = 1;                       \
    expect(#NAME, md, WANT);                                  \
    hex(#NAME "-abc", md, LEN);                               \
    if (!NAME##_Init(&c)) bad = 1;                            \
    for (int i = 0; i < 40; ++i) NAME##_Update(&c, long_msg, 1 + (size_t)(i * 37) % 1999); \
    if (!NAME##_Final(md, &c)) bad = 1;                       \
    hex(#NAME "-long", md, LEN);                              \
  } while (0)

static void sha(void) {
  static unsigned char long_msg[2000];
  for (int i = 0; i < 2000; ++i) long_msg[i] = (unsigned char)(i * 13);
  SHA_CASE(SHA1, SHA_CTX, 20, "a9993e364706816aba3e25717850c26c9cd0d89d");
  SHA_CASE(SHA224, SHA256_CTX, 28, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
  SHA_CASE(SHA256, SHA256_CTX, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  SHA_CASE(SHA384, SHA512_CTX, 48,
           "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  SHA_CASE(SHA512, SHA512_CTX, 64,
           "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643"
           "ce80e2a9ac94fa54ca49f");
}

/* A native SHA256_CTX holds SHA-256's initial state after Init and the unhashed input
 * after a short Update; one kept in a virtine holds neither. */
static void sha_isolated(void) {
  static const unsigned char iv_word[4] = {0x67, 0xe6, 0x09, 0x6a}; /* 0x6a09e667, little-endian */
  static const unsigned char secret[8] = "s3cr3t!";
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, secret, sizeof(secret));
  if (holds_bytes(&c, sizeof(c), iv_word, 4) || holds_bytes(&c, sizeof(c), secret, 8)) {
    fprintf(stderr, "legacy-api: SHA-256 state found in the SHA256_CTX\n");
    bad = 1;
  }
  unsigned char md[32];
  SHA256_Final(md, &c);
}

static int liar_aes(void) {
  unsigned char key[16] = {1}, in[16] = {2}, out[16];
  AES_KEY k;
  memset(out, 0xee, sizeof(out));
  if (AES_set_encrypt_key(key, 128, &k) != 0) return 1;
  AES_encrypt(in, out, &k);
  static const unsigned char zero[16];
  const int failed = memcmp(out, zero, 16) == 0 && ERR_peek_error() != 0;
  printf("liar-aes: %s\n", failed ? "the call failed, output zeroed" : "served");
  ERR_print_errors_fp(stderr);
  return failed ? 0 : 1;
}

static int liar_sha(void) {
  SHA256_CTX c;
  unsigned char md[32];
  SHA256_Init(&c);
  SHA256_Update(&c, "abc", 3);
  const int ret = SHA256_Final(md, &c);
  printf("liar-sha: SHA256_Final returned %d\n", ret);
  const int failed = ret == 0 && ERR_peek_error() != 0;
  ERR_print_errors_fp(stderr);
  return failed ? 0 : 1;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "liar-aes") == 0) return liar_aes();
  if (strcmp(mode, "liar-sha") == 0) return liar_sha();
  const int isolated = strcmp(mode, "isolated") == 0;
  aes_known_answers(isolated);
  aes_cbc();
  sha();
  if (isolated) sha_isolated();
  return bad;
}
