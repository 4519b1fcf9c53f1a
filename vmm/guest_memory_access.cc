#include "vmm/guest_memory_access.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cryptine {

constinit thread_local unsigned guest_memory_access_detail::t_depth = 0;

namespace {

// CRYPTINE_PKU: unset or 1 uses protection keys where there are any, 0 never does.
bool keys_wanted() {
  const char* v = std::getenv("CRYPTINE_PKU");
  if (v == nullptr || std::strcmp(v, "1") == 0) return true;
  if (std::strcmp(v, "0") == 0) return false;
  std::fprintf(stderr, "cryptine: CRYPTINE_PKU='%.32s' is not understood; using 1\n", v);
  return true;
}

}  // namespace

int allocate_guest_memory_pkey() {
  if (!keys_wanted()) return -1;
  // Fails (EINVAL, ENOSPC, ENOSYS) where the CPU or kernel has no protection keys, or
  // the program took all 15: then guard pages are all.
  return ::pkey_alloc(0, PKEY_DISABLE_ACCESS);
}

bool GuestMemoryAccess::is_open() {
  const int key = guest_memory_pkey();
  return key < 0 || (read_pkru() & guest_memory_access_detail::deny_bits(key)) == 0;
}

}  // namespace cryptine
