#include "vmm/guest_mapping.h"

#include <sys/mman.h>

#include <string>

#include "vmm/counters.h"
#include "vmm/guest_memory_access.h"
#include "vmm/process_fork.h"

namespace cryptine {

Result<GuestMapping> GuestMapping::map(size_t size, int prot, int flags, int fd, const char* what) {
  const size_t total = size + 2 * kGuardSize;
  // Reserve guards and all as PROT_NONE, then put the mapping in the middle: the guards
  // are what is left of the reservation, and nothing else can be mapped between.
  void* reserved = ::mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return Error::from_errno(std::string("mmap reserve ") + what);
  count(vmm_counters().mappings);
  Mapping mapping(reserved, total);
  char* inner = static_cast<char*>(reserved) + kGuardSize;
  if (::mmap(inner, size, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED)
    return Error::from_errno(std::string("mmap ") + what);
  if (const int key = guest_memory_pkey(); key >= 0 && ::pkey_mprotect(inner, size, prot, key) != 0)
    return Error::from_errno(std::string("pkey_mprotect ") + what);
  CRYPTINE_TRY_STATUS(keep_from_children(reserved, total, what));
  return GuestMapping(std::move(mapping));
}

}  // namespace cryptine
