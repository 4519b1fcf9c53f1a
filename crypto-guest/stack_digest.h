/* One-shot digests whose context lives on the stack (stack_digest.c). */
#pragma once

#include <stddef.h>

/* Digests `len` bytes at `in` into `out` (room for the digest) if `nid` is SHA-1, SHA-224,
 * SHA-256, SHA-384 or SHA-512. Returns the digest's length, 0 if OpenSSL failed, or -1 for
 * any other digest (the caller then takes EVP_Digest). */
int stack_digest(int nid, const unsigned char* in, size_t len, unsigned char* out);
