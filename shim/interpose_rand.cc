// The program's random generators stay in the program. OpenSSL's DRBGs drive AES (and
// hashes) through the same exported EVP functions a program calls, so without this their
// contexts would get twins: slow, and after fork() a child's DRBG would hold contexts
// whose virtines belong to the parent. Under these entry points nothing new goes to a
// virtine (see OpenSslMachinery); they are the doors into the DRBGs.
#include <openssl/rand.h>

#include "shim/real_symbol.h"

using cryptine::OpenSslMachinery;

#define CRYPTINE_DRBG_DOOR(RET, NAME, PARAMS, ARGS) \
  CRYPTINE_EXPORT RET NAME PARAMS {                 \
    OpenSslMachinery machinery;                     \
    return CRYPTINE_REAL(NAME) ARGS;                \
  }

CRYPTINE_DRBG_DOOR(int, RAND_bytes, (unsigned char* buf, int num), (buf, num))
CRYPTINE_DRBG_DOOR(int, RAND_priv_bytes, (unsigned char* buf, int num), (buf, num))
CRYPTINE_DRBG_DOOR(int, RAND_bytes_ex, (OSSL_LIB_CTX * ctx, unsigned char* buf, size_t num, unsigned int strength),
                   (ctx, buf, num, strength))
CRYPTINE_DRBG_DOOR(int, RAND_priv_bytes_ex,
                   (OSSL_LIB_CTX * ctx, unsigned char* buf, size_t num, unsigned int strength),
                   (ctx, buf, num, strength))
CRYPTINE_DRBG_DOOR(EVP_RAND_CTX*, RAND_get0_primary, (OSSL_LIB_CTX * ctx), (ctx))
CRYPTINE_DRBG_DOOR(EVP_RAND_CTX*, RAND_get0_public, (OSSL_LIB_CTX * ctx), (ctx))
CRYPTINE_DRBG_DOOR(EVP_RAND_CTX*, RAND_get0_private, (OSSL_LIB_CTX * ctx), (ctx))
CRYPTINE_DRBG_DOOR(int, EVP_RAND_instantiate,
                   (EVP_RAND_CTX * ctx, unsigned int strength, int prediction_resistance, const unsigned char* pstr,
                    size_t pstr_len, const OSSL_PARAM params[]),
                   (ctx, strength, prediction_resistance, pstr, pstr_len, params))
CRYPTINE_DRBG_DOOR(int, EVP_RAND_generate,
                   (EVP_RAND_CTX * ctx, unsigned char* out, size_t outlen, unsigned int strength,
                    int prediction_resistance, const unsigned char* addin, size_t addin_len),
                   (ctx, out, outlen, strength, prediction_resistance, addin, addin_len))
CRYPTINE_DRBG_DOOR(int, EVP_RAND_reseed,
                   (EVP_RAND_CTX * ctx, int prediction_resistance, const unsigned char* ent, size_t ent_len,
                    const unsigned char* addin, size_t addin_len),
                   (ctx, prediction_resistance, ent, ent_len, addin, addin_len))
CRYPTINE_DRBG_DOOR(int, EVP_RAND_CTX_set_params, (EVP_RAND_CTX * ctx, const OSSL_PARAM params[]), (ctx, params))
