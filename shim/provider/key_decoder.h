// The provider's decoder (OSSL_OP_DECODER): private keys in PEM go from the program's read
// buffer into a virtine, which decodes the base64, decrypts and parses them there
// (key_data.h's decode_key); the program's EVP_PKEY gets the provider's key, its public
// part and a handle.
//
// It is named "PEM" with input "PEM", so OpenSSL's decoder chain (OSSL_DECODER_CTX_add_extra)
// adds it one round after the default provider's PEM-to-DER decoder, and, the chain being
// tried from its end, runs it first: PEM_read_bio_PrivateKey, SSL_CTX_use_PrivateKey_file
// and OSSL_DECODER from PEM reach it before the key is decoded in the program. It takes
// only what asks for a private key (the selection) in a PEM block labelled as one; it
// leaves everything else, and keys of types it does not hold, to the decoders after it.
// OSSL_STORE (the openssl tools' -key, -inkey) asks with selection 0, then decodes what it
// is given again with the selection it expects: the block is passed on to it undecoded.
#pragma once

#include <openssl/core.h>

namespace cryptine::provider {

// "PEM" to private keys, ending with a null entry; empty when no key type is offered.
const OSSL_ALGORITHM* decoder_algorithms();

// The core's BIO functions, from the dispatch table OSSL_provider_init receives: the
// decoder reads the program's BIO through them.
void take_core_bio_functions(const OSSL_DISPATCH* core);

}  // namespace cryptine::provider
