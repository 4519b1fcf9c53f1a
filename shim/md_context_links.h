// What the digest-context interposers (interpose_md.cc) and the signing-context ones
// (interpose_digest_sign.cc) tell each other about one EVP_MD_CTX.
#pragma once

#include <openssl/evp.h>

namespace cryptine {

// The context becomes a signing one: its digest twin, if any, goes.
void forget_md_twin(const EVP_MD_CTX* ctx);

// The context is freed or reset: its signing shadow, if any, goes.
void forget_shadow(const EVP_MD_CTX* ctx);

// `out` became a copy of `in`: so does its signing shadow.
void copy_shadow(EVP_MD_CTX* out, const EVP_MD_CTX* in);

}  // namespace cryptine
