/* cryptine guest ABI, whole: the hypercalls and memory layout the monitor shares with a
 * guest (hypercall_abi.h) and the crypto protocol the shim speaks with the crypto guest
 * through the mailbox (crypto_protocol.h). The guest and the shim include this; vmm/
 * includes hypercall_abi.h alone. The build turns these CRYPTINE_* macros into
 * guest_abi.inc for the guest's NASM code. */
#ifndef CRYPTINE_GUEST_ABI_H
#define CRYPTINE_GUEST_ABI_H

#include "crypto_protocol.h"
#include "hypercall_abi.h"

#endif /* CRYPTINE_GUEST_ABI_H */
