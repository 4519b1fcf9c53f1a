/* One-shot digests of the SHA-1 and SHA-2 families with OpenSSL's own block functions, the
 * context on the stack. EVP_Digest allocates an EVP_MD_CTX and the provider's context and
 * frees them again: in a virtine reset after the call (a call-scoped digest) that writes
 * malloc's state and two heap pages, which the reset then copies back. The default
 * provider's SHA digests run these same functions (providers/implementations/digests/
 * sha2_prov.c), so the bytes are the same. They are deprecated as an application API;
 * this guest is built against one OpenSSL release (Debian 12's 3.0), which has them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "stack_digest.h"

#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#define DIGEST_ON_STACK(CTX, INIT, UPDATE, FINAL, LENGTH)                   \
  do {                                                                      \
    CTX ctx;                                                                \
    const int ok = INIT(&ctx) && UPDATE(&ctx, in, len) && FINAL(out, &ctx); \
    OPENSSL_cleanse(&ctx, sizeof(ctx));                                     \
    return ok ? (LENGTH) : 0;                                               \
  } while (0)

int stack_digest(int nid, const unsigned char* in, size_t len, unsigned char* out) {
  switch (nid) {
    case NID_sha1: DIGEST_ON_STACK(SHA_CTX, SHA1_Init, SHA1_Update, SHA1_Final, SHA_DIGEST_LENGTH);
    case NID_sha224: DIGEST_ON_STACK(SHA256_CTX, SHA224_Init, SHA224_Update, SHA224_Final, SHA224_DIGEST_LENGTH);
    case NID_sha256: DIGEST_ON_STACK(SHA256_CTX, SHA256_Init, SHA256_Update, SHA256_Final, SHA256_DIGEST_LENGTH);
    case NID_sha384: DIGEST_ON_STACK(SHA512_CTX, SHA384_Init, SHA384_Update, SHA384_Final, SHA384_DIGEST_LENGTH);
    case NID_sha512: DIGEST_ON_STACK(SHA512_CTX, SHA512_Init, SHA512_Update, SHA512_Final, SHA512_DIGEST_LENGTH);
    default: return -1;
  }
}
