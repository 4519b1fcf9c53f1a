// GuestMapping: how guest RAM enters the program's address space.
//
// Every mapping that holds guest RAM (a virtine's memory, a snapshot's image) is made
// here, so each gets the same fences:
// - a PROT_NONE guard page on either side: a linear over-read or overrun from a
//   neighbouring buffer faults before it reaches guest memory (with or without keys);
// - guest memory's protection key, where there is one (guest_memory_access.h): program
//   code outside a GuestMemoryAccess cannot read or write it at all;
// - MADV_DONTFORK and MADV_DONTDUMP (process_fork.h): no child and no core dump holds it.
#pragma once

#include <cstddef>

#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace cryptine {

class GuestMapping {
 public:
  // mmap(size, prot, flags, fd, 0) between guard pages (MAP_FIXED is added); `what`
  // names the mapping in errors. Counts one mapping, as its munmap counts one.
  static Result<GuestMapping> map(size_t size, int prot, int flags, int fd, const char* what);

  GuestMapping() = default;
  void* get() const { return reserved_.get() == nullptr ? nullptr : static_cast<char*>(reserved_.get()) + kGuardSize; }
  size_t size() const { return reserved_.size() == 0 ? 0 : reserved_.size() - 2 * kGuardSize; }

  static constexpr size_t kGuardSize = 4096;

 private:
  explicit GuestMapping(Mapping reserved) : reserved_(std::move(reserved)) {}
  Mapping reserved_;  // guards included: unmapped as one
};

}  // namespace cryptine
