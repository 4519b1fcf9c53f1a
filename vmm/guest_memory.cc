#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include "abi/hypercall_abi.h"
#include "vmm/bulk_copy.h"

namespace cryptine {

Result<GuestMemory> GuestMemory::create(uint64_t size) {
  if (size == 0 || size % CRYPTINE_PAGE_SIZE != 0)
    return Error(ErrorCode::kInvalidArgument,
                 "guest memory size " + std::to_string(size) + " is not a non-zero page multiple");
  return GuestMemory(CRYPTINE_TRY(GuestMapping::map(size, PROT_READ | PROT_WRITE,
                                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, "guest memory")));
}

Result<GuestMemory> GuestMemory::map_private(int fd, uint64_t size) {
  if (size == 0 || size % CRYPTINE_PAGE_SIZE != 0)
    return Error(ErrorCode::kInvalidArgument, "snapshot size " + std::to_string(size) + " is not a page multiple");
  return GuestMemory(CRYPTINE_TRY(GuestMapping::map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd,
                                                    "guest memory (snapshot copy-on-write)")));
}

Error GuestMemory::outside(GuestAddr addr, uint64_t len) const {
  return Error(ErrorCode::kOutOfRange, "guest range [" + std::to_string(addr.value) + ", +" + std::to_string(len) +
                                           ") outside guest memory of " + std::to_string(size()) + " bytes");
}

Result<std::span<uint8_t>> GuestMemory::translate_mut(const GuestMemoryAccess&, GuestAddr addr, uint64_t len) {
  auto span = CRYPTINE_TRY(checked_span(addr, len));
  if (len != 0) {
    for (uint64_t page = addr.value / kPageSize; page <= (addr.value + len - 1) / kPageSize; ++page)
      host_written_[page / 64] |= uint64_t{1} << (page % 64);
  }
  return span;
}

void GuestMemory::take_host_written(std::span<uint64_t> bitmap) {
  for (size_t i = 0; i < host_written_.size() && i < bitmap.size(); ++i) {
    bitmap[i] |= host_written_[i];
    host_written_[i] = 0;
  }
}

Result<uint64_t> GuestMemory::restore_pages(std::span<uint64_t> bitmap, std::span<const uint8_t> clean) {
  if (clean.size() != size())
    return Error(ErrorCode::kInvalidArgument, "restore from an image of " + std::to_string(clean.size()) +
                                                  " bytes into guest memory of " + std::to_string(size()));
  const GuestMemoryAccess open;  // reads the snapshot's image, writes guest memory
  uint64_t copied = 0;
  const size_t words = std::min(bitmap.size(), host_written_.size());
  for (size_t word = 0; word < words; ++word) {
    uint64_t bits = std::exchange(bitmap[word], 0);
    while (bits != 0) {
      const uint64_t page = word * 64 + static_cast<uint64_t>(std::countr_zero(bits));
      bits &= bits - 1;
      std::memcpy(base() + page * kPageSize, clean.data() + page * kPageSize, kPageSize);
      ++copied;
    }
  }
  return copied;
}

Status GuestMemory::write(GuestAddr addr, std::span<const uint8_t> bytes) {
  const GuestMemoryAccess open;
  auto dst = CRYPTINE_TRY(translate_mut(open, addr, bytes.size()));
  copy_bulk(dst.data(), bytes.data(), bytes.size());
  return {};
}

Status GuestMemory::write_rewritten_at_reset(GuestAddr addr, std::span<const uint8_t> bytes) {
  const GuestMemoryAccess open;
  auto dst = CRYPTINE_TRY(checked_span(addr, bytes.size()));
  copy_bulk(dst.data(), bytes.data(), bytes.size());
  return {};
}

Status GuestMemory::read(GuestAddr addr, std::span<uint8_t> out) {
  const GuestMemoryAccess open;
  auto src = CRYPTINE_TRY(translate(open, addr, out.size()));
  copy_bulk(out.data(), src.data(), out.size());
  return {};
}

Status GuestMemory::fill(GuestAddr addr, uint8_t byte, uint64_t len) {
  const GuestMemoryAccess open;
  auto dst = CRYPTINE_TRY(translate_mut(open, addr, len));
  if (len != 0) std::memset(dst.data(), byte, len);
  return {};
}

}  // namespace cryptine
