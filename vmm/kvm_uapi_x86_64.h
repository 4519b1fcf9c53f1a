// The KVM uapi structs that end in a flexible array, declared with the kernel's layout.
//
// linux/kvm.h declares them with __DECLARE_FLEX_ARRAY, which in C++ inserts an empty
// struct of size 1: the array moves (kvm_cpuid2's entries to offset 12 instead of 8) and
// the ioctl numbers derived from sizeof() change (KVM_GET_SUPPORTED_CPUID encodes 12
// instead of 8, and the kernel answers EINVAL). The monitor therefore uses these headers,
// ioctl numbers and FlexBuffer; the static_asserts pin them to the values C derives.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace cryptine {

struct KvmCpuid2Header {
  uint32_t nent;
  uint32_t padding;
};  // then kvm_cpuid_entry2[nent]
struct KvmMsrsHeader {
  uint32_t nmsrs;
  uint32_t pad;
};  // then kvm_msr_entry[nmsrs]
struct KvmMsrListHeader {
  uint32_t nmsrs;
};  // then uint32_t[nmsrs]
struct KvmSignalMaskHeader {
  uint32_t len;
};  // then the kernel's sigset, len bytes
struct KvmXsave {
  uint32_t region[1024];
};

inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmCpuid2Header);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmCpuid2Header);
inline constexpr unsigned long kKvmGetMsrIndexList = _IOWR(KVMIO, 0x02, KvmMsrListHeader);
inline constexpr unsigned long kKvmGetMsrFeatureIndexList = _IOWR(KVMIO, 0x0a, KvmMsrListHeader);
inline constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, KvmMsrsHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmMsrsHeader);
inline constexpr unsigned long kKvmSetSignalMask = _IOW(KVMIO, 0x8b, KvmSignalMaskHeader);
inline constexpr unsigned long kKvmGetXsave = _IOR(KVMIO, 0xa4, KvmXsave);
inline constexpr unsigned long kKvmSetXsave = _IOW(KVMIO, 0xa5, KvmXsave);

static_assert(kKvmGetSupportedCpuid == 0xc008ae05);
static_assert(kKvmSetCpuid2 == 0x4008ae90);
static_assert(kKvmGetMsrIndexList == 0xc004ae02);
static_assert(kKvmGetMsrFeatureIndexList == 0xc004ae0a);
static_assert(kKvmGetMsrs == 0xc008ae88);
static_assert(kKvmSetMsrs == 0x4008ae89);
static_assert(kKvmSetSignalMask == 0x4004ae8b);
static_assert(kKvmGetXsave == 0x9000aea4);
static_assert(kKvmSetXsave == 0x5000aea5);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

// A Header followed by `capacity` Entry values in one zeroed, 8-byte aligned block.
template <typename Header, typename Entry>
class FlexBuffer {
 public:
  explicit FlexBuffer(size_t capacity)
      : words_(std::make_unique<uint64_t[]>((sizeof(Header) + capacity * sizeof(Entry) + 7) / 8)), capacity_(capacity) {
    std::memset(words_.get(), 0, (sizeof(Header) + capacity * sizeof(Entry) + 7) / 8 * 8);
  }
  Header* header() { return reinterpret_cast<Header*>(words_.get()); }
  Entry* entries() { return reinterpret_cast<Entry*>(reinterpret_cast<uint8_t*>(words_.get()) + sizeof(Header)); }
  std::span<Entry> first(size_t n) { return {entries(), n < capacity_ ? n : capacity_}; }
  size_t capacity() const { return capacity_; }
  void* get() { return words_.get(); }

 private:
  std::unique_ptr<uint64_t[]> words_;
  size_t capacity_;
};

}  // namespace cryptine
