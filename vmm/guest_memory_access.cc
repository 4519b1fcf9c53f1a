#include "vmm/guest_memory_access.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vmm/pkru_x86_64.h"

namespace cryptine {
namespace {

// PKRU holds two bits per key: access-disable, then write-disable.
uint32_t deny_bits(int key) {
  return uint32_t{3} << (2 * key);
}

// CRYPTINE_PKU: unset or 1 uses protection keys where there are any, 0 never does.
bool keys_wanted() {
  const char* v = std::getenv("CRYPTINE_PKU");
  if (v == nullptr || std::strcmp(v, "1") == 0) return true;
  if (std::strcmp(v, "0") == 0) return false;
  std::fprintf(stderr, "cryptine: CRYPTINE_PKU='%.32s' is not understood; using 1\n", v);
  return true;
}

int allocate_key() {
  if (!keys_wanted()) return -1;
  // Fails (EINVAL, ENOSPC, ENOSYS) where the CPU or kernel has no protection keys, or
  // the program took all 15: then guard pages are all.
  return ::pkey_alloc(0, PKEY_DISABLE_ACCESS);
}

thread_local unsigned t_depth = 0;  // scopes open in this thread

}  // namespace

int guest_memory_pkey() {
  static const int key = allocate_key();
  return key;
}

void GuestMemoryAccess::open() {
  if (t_depth++ == 0) write_pkru(read_pkru() & ~deny_bits(guest_memory_pkey()));
}

void GuestMemoryAccess::close() {
  if (--t_depth == 0) write_pkru(read_pkru() | deny_bits(guest_memory_pkey()));
}

bool GuestMemoryAccess::is_open() {
  const int key = guest_memory_pkey();
  return key < 0 || (read_pkru() & deny_bits(key)) == 0;
}

}  // namespace cryptine
