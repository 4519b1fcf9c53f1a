// ELF64 guest images: a pure parser that validates every header field against the
// file and the guest's memory, and a loader that copies the validated segments in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/guest_memory.h"
#include "vmm/result.h"

namespace cryptine {

struct ElfSegment {
  uint64_t guest_addr;   // p_vaddr (identity-mapped guest: virtual == physical)
  uint64_t file_offset;  // p_offset
  uint64_t file_size;    // p_filesz, <= mem_size
  uint64_t mem_size;     // p_memsz; the tail past file_size is zeroed
  bool executable;
};

struct ElfImage {
  uint64_t entry;
  std::vector<ElfSegment> segments;  // PT_LOAD only, sorted by guest_addr, disjoint
  uint64_t end;                      // first byte past the highest segment
};

// Accepts only a static little-endian x86-64 ELF64 executable whose PT_LOAD segments
// lie within [load_min, load_limit), do not overlap, and whose entry point is inside an
// executable segment. Every offset/size is checked without overflow.
Result<ElfImage> parse_elf64(std::span<const uint8_t> file, uint64_t load_min, uint64_t load_limit);

// Copies a parsed image into guest memory (file bytes, then zeroes to mem_size).
Status load_elf64(const ElfImage& image, std::span<const uint8_t> file, GuestMemory& memory);

}  // namespace cryptine
