// What a VM exit means under the guest ABI, decided by a plain function.
//
// Running a vCPU and deciding what its exit means are kept apart so the decision can
// be tested with made-up exits, without /dev/kvm. Only the exact port writes of
// hypercall_abi.h are hypercalls; everything else is a fault that ends the virtine.
#pragma once

#include <cstdint>
#include <string_view>

#include "vmm/result.h"

namespace cryptine {

enum class HypercallKind { kDone, kSnapshot, kExit, kLog, kAbort };

std::string_view hypercall_name(HypercallKind kind);

struct Hypercall {
  HypercallKind kind;
  uint32_t arg;  // the 32-bit value written to the port (eax)
};

// Why KVM_RUN returned, independent of kvm_run's layout.
struct VmExit {
  enum class Kind { kIo, kMmio, kHlt, kShutdown, kInternalError, kFailEntry, kOther };
  Kind kind = Kind::kOther;
  uint32_t kvm_reason = 0;  // the raw KVM_EXIT_* value, for messages
  // kIo
  bool io_out = false;
  uint8_t io_size = 0;
  uint16_t io_port = 0;
  uint32_t io_count = 0;
  uint32_t io_value = 0;  // the first io_size bytes written, for OUT
  // kMmio
  uint64_t mmio_addr = 0;
  bool mmio_write = false;
  // kInternalError suberror, kFailEntry hardware reason
  uint64_t detail = 0;
};

// A hypercall, or kGuestFault naming what the guest did.
Result<Hypercall> decide_exit(const VmExit& exit);

}  // namespace cryptine
