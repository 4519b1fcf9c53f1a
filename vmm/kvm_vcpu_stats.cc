#include "vmm/kvm_vcpu_stats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace cryptine {
namespace {

// kvm_stats_desc's fixed part; its name (header.name_size bytes) follows. Read by offset:
// the uapi struct ends in a flexible array (see kvm_uapi_x86_64.h).
constexpr size_t kDescFixed = 16;
constexpr size_t kDescSizeAt = 6, kDescOffsetAt = 8;
// Bounds on what the kernel says, so a surprise cannot make us read without end.
constexpr uint32_t kMaxNameSize = 4096, kMaxDescriptors = 65536;

std::atomic<bool> g_counting{false};

Status pread_all(int fd, void* out, size_t n, off_t at, const char* what) {
  const ssize_t got = ::pread(fd, out, n, at);
  if (got < 0) return Error::from_errno(std::string("reading KVM statistics ") + what);
  if (static_cast<size_t>(got) != n) return Error(ErrorCode::kUnsupported, std::string("short KVM statistics ") + what);
  return {};
}

}  // namespace

Result<KvmStatCounter> KvmStatCounter::open(int kvm_fd, std::string_view name) {
  const int fd = ::ioctl(kvm_fd, KVM_GET_STATS_FD, nullptr);
  if (fd < 0) {
    if (errno == ENOTTY || errno == EINVAL) return Error(ErrorCode::kUnsupported, "no KVM binary statistics");
    return Error::from_errno("KVM_GET_STATS_FD");
  }
  UniqueFd stats(fd);
  kvm_stats_header header{};
  CRYPTINE_TRY_STATUS(pread_all(fd, &header, sizeof(header), 0, "header"));
  if (header.name_size == 0 || header.name_size > kMaxNameSize || header.num_desc > kMaxDescriptors)
    return Error(ErrorCode::kUnsupported, "KVM statistics header out of bounds");
  const size_t stride = kDescFixed + header.name_size;
  std::vector<uint8_t> descs(stride * header.num_desc);
  CRYPTINE_TRY_STATUS(pread_all(fd, descs.data(), descs.size(), header.desc_offset, "descriptors"));
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    const uint8_t* d = descs.data() + i * stride;
    const char* n = reinterpret_cast<const char*>(d + kDescFixed);
    if (std::string_view(n, strnlen(n, header.name_size)) != name) continue;
    uint16_t size;
    uint32_t offset;
    std::memcpy(&size, d + kDescSizeAt, sizeof(size));
    std::memcpy(&offset, d + kDescOffsetAt, sizeof(offset));
    if (size == 0) break;
    return KvmStatCounter(std::move(stats), static_cast<off_t>(header.data_offset) + offset);
  }
  return Error(ErrorCode::kUnsupported, "KVM has no statistic '" + std::string(name) + "'");
}

Result<uint64_t> KvmStatCounter::read() const {
  uint64_t value = 0;
  CRYPTINE_TRY_STATUS(pread_all(fd_.get(), &value, sizeof(value), at_, "value"));
  return value;
}

KvmExitTally::KvmExitTally(KvmStatCounter exits, std::optional<KvmStatCounter> interrupts)
    : exits_(std::move(exits)), interrupts_(std::move(interrupts)) {
  (void)since(exits_, exits_seen_);
  if (interrupts_) (void)since(*interrupts_, interrupts_seen_);
}

Result<KvmExitTally> KvmExitTally::open(int vcpu_fd) {
  KvmStatCounter exits = CRYPTINE_TRY(KvmStatCounter::open(vcpu_fd, "exits"));
  auto interrupts = KvmStatCounter::open(vcpu_fd, "irq_exits");
  return KvmExitTally(std::move(exits),
                      interrupts.ok() ? std::optional<KvmStatCounter>(std::move(interrupts).value()) : std::nullopt);
}

uint64_t KvmExitTally::since(const KvmStatCounter& counter, uint64_t& seen) {
  auto now = counter.read();
  if (!now.ok() || *now < seen) return 0;
  const uint64_t change = *now - seen;
  seen = *now;
  return change;
}

KvmExitTally::Change KvmExitTally::look() {
  Change c;
  c.exits = since(exits_, exits_seen_);
  if (interrupts_) c.interrupt_exits = since(*interrupts_, interrupts_seen_);
  return c;
}

void set_kvm_exit_counting(bool on) {
  g_counting.store(on, std::memory_order_relaxed);
}

bool kvm_exit_counting() {
  return g_counting.load(std::memory_order_relaxed);
}

}  // namespace cryptine
