#include "vmm/exit_decision.h"

#include <linux/kvm.h>

#include <cstdio>
#include <string>

#include "abi/hypercall_abi.h"

namespace cryptine {
namespace {

struct HypercallPort {
  uint16_t port;
  HypercallKind kind;
  const char* name;
};

// The fixed table of allowed hypercalls; nothing outside it is accepted.
constexpr HypercallPort kHypercallPorts[] = {
    {CRYPTINE_PORT_DONE, HypercallKind::kDone, "DONE"},
    {CRYPTINE_PORT_SNAPSHOT, HypercallKind::kSnapshot, "SNAPSHOT"},
    {CRYPTINE_PORT_EXIT, HypercallKind::kExit, "EXIT"},
    {CRYPTINE_PORT_LOG, HypercallKind::kLog, "LOG"},
    {CRYPTINE_PORT_ABORT, HypercallKind::kAbort, "ABORT"},
};

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Error fault(const std::string& what) {
  return Error(ErrorCode::kGuestFault, what);
}

}  // namespace

std::string_view hypercall_name(HypercallKind kind) {
  for (const HypercallPort& h : kHypercallPorts)
    if (h.kind == kind) return h.name;
  return "?";
}

Result<Hypercall> decide_exit(const VmExit& exit) {
  switch (exit.kind) {
    case VmExit::Kind::kIo: {
      const HypercallPort* match = nullptr;
      for (const HypercallPort& h : kHypercallPorts)
        if (h.port == exit.io_port) match = &h;
      if (match == nullptr) return fault("I/O to unknown port " + hex(exit.io_port));
      if (!exit.io_out) return fault(std::string("read from hypercall port ") + match->name);
      if (exit.io_size != 4 || exit.io_count != 1)
        return fault(std::string("hypercall ") + match->name + " with width " + std::to_string(exit.io_size) + " x" +
                     std::to_string(exit.io_count) + " (need one 32-bit out)");
      return Hypercall{match->kind, exit.io_value};
    }
    case VmExit::Kind::kMmio:
      return fault(std::string("MMIO ") + (exit.mmio_write ? "write to " : "read from ") + hex(exit.mmio_addr));
    case VmExit::Kind::kHlt: return fault("HLT outside the protocol");
    case VmExit::Kind::kShutdown: return fault("shutdown (triple fault)");
    case VmExit::Kind::kInternalError:
      // Emulation failures are what a KVM that emulates the guest's kernel-mode code
      // (kvm-pvm, in some cloud sandboxes) gives at the guest's first SSE instruction.
      if (exit.detail == KVM_INTERNAL_ERROR_EMULATION)
        return fault("KVM internal error, suberror 1: KVM could not emulate a guest instruction (a KVM that "
                     "emulates guest kernel code, such as kvm-pvm, cannot run this guest; kvm_intel or kvm_amd can)");
      return fault("KVM internal error, suberror " + std::to_string(exit.detail));
    case VmExit::Kind::kFailEntry: return fault("VM entry failed, hardware reason " + hex(exit.detail));
    case VmExit::Kind::kOther: break;
  }
  return fault("unexpected exit reason " + std::to_string(exit.kvm_reason));
}

}  // namespace cryptine
