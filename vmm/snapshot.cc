#include "vmm/snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace cryptine {
namespace {

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// Writes only non-zero pages of `memory` to `fd`: the file is sparse, zero pages stay
// holes and cost nothing. Returns how many it wrote.
Result<uint64_t> write_nonzero_pages(const GuestMemory& memory, int fd) {
  // pwrite reads guest memory too: the kernel's copy from user memory obeys PKRU.
  const GuestMemoryAccess open;
  const uint64_t size = memory.size();
  const uint8_t* src = CRYPTINE_TRY(memory.translate(open, GuestAddr{0}, size)).data();
  uint64_t written = 0;
  for (uint64_t off = 0; off < size; off += GuestMemory::kPageSize) {
    if (all_zero(src + off, GuestMemory::kPageSize)) continue;
    ++written;
    size_t done = 0;
    while (done < GuestMemory::kPageSize) {
      ssize_t n = ::pwrite(fd, src + off + done, GuestMemory::kPageSize - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno("pwrite snapshot");
      }
      done += static_cast<size_t>(n);
    }
  }
  return written;
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> Snapshot::create(const GuestMemory& memory, VcpuState vcpu,
                                                         GuestLoads guest_loads) {
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->memfd_.reset(::memfd_create("cryptine-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!snap->memfd_.valid()) return Error::from_errno("memfd_create");
  const int fd = snap->memfd_.get();
  const uint64_t size = memory.size();
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return Error::from_errno("ftruncate snapshot");

  snap->nonzero_pages_ = CRYPTINE_TRY(write_nonzero_pages(memory, fd));
  // Sealed: nobody, not even this process by mistake, can change a snapshot.
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return Error::from_errno("fcntl F_ADD_SEALS snapshot");

  CRYPTINE_TRY_STATUS(snap->map_image(size));
  snap->vcpu_ = std::move(vcpu);
  snap->guest_loads_ = guest_loads;
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

Result<std::shared_ptr<const Snapshot>> Snapshot::remap() const {
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->memfd_.reset(::fcntl(memfd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!snap->memfd_.valid()) return Error::from_errno("fcntl F_DUPFD_CLOEXEC snapshot");
  CRYPTINE_TRY_STATUS(snap->map_image(image_.size()));
  snap->vcpu_ = vcpu_;
  snap->guest_loads_ = guest_loads_;
  snap->nonzero_pages_ = nonzero_pages_;
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

Status Snapshot::map_image(uint64_t size) {
  image_ = CRYPTINE_TRY(GuestMapping::map(size, PROT_READ, MAP_SHARED, memfd_.get(), "snapshot"));
  return {};
}

}  // namespace cryptine
