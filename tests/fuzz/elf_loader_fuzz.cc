// libFuzzer target: the ELF loader on arbitrary bytes. Anything accepted must satisfy
// what the monitor relies on: sorted, disjoint segments inside guest memory, file bytes
// inside the file, an entry point in an executable segment, and a load that succeeds.
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"
#include "vmm/elf_loader.h"

namespace {
constexpr uint64_t kMin = 0x400000, kLimit = 0x1000000;
}  // namespace

using cryptine::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cryptine::GuestMemory* memory =
      new cryptine::GuestMemory(std::move(cryptine::GuestMemory::create(kLimit)).value());
  std::span<const uint8_t> file(data, size);
  auto image = cryptine::parse_elf64(file, kMin, kLimit);
  if (!image.ok()) return 0;
  check(!image->segments.empty());
  bool entry_ok = false;
  for (size_t i = 0; i < image->segments.size(); ++i) {
    const auto& s = image->segments[i];
    check(s.guest_addr >= kMin && cryptine::range_within(s.guest_addr, s.mem_size, kLimit));
    check(s.file_size <= s.mem_size && cryptine::range_within(s.file_offset, s.file_size, size));
    if (i > 0) check(image->segments[i - 1].guest_addr + image->segments[i - 1].mem_size <= s.guest_addr);
    entry_ok |= s.executable && image->entry >= s.guest_addr && image->entry - s.guest_addr < s.mem_size;
  }
  check(entry_ok);
  check(cryptine::load_elf64(*image, file, *memory).ok());
  return 0;
}
