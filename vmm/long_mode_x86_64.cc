#include "vmm/long_mode_x86_64.h"

#include <cstring>

#include "abi/hypercall_abi.h"

namespace cryptine {
namespace {

constexpr uint64_t kPresent = 1u << 0;
constexpr uint64_t kWritable = 1u << 1;
constexpr uint64_t kAccessed = 1u << 5;
constexpr uint64_t kDirty = 1u << 6;  // leaf entries only
constexpr uint64_t kHuge = 1u << 7;
// Every entry starts accessed and every leaf dirty, as Linux maps its own kernel: else the
// CPU's page walk sets them on the guest's first use of each after the snapshot, writing
// page-table pages that every reset must then copy back (the null-call guest's first write
// to the mailbox wrote PD entry 0 and the mailbox's PT0 entry).
constexpr uint64_t kTable = kPresent | kWritable | kAccessed;
constexpr uint64_t kLeaf = kPresent | kWritable | kAccessed | kDirty;
constexpr uint64_t k2M = 2ull << 20;

constexpr uint64_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Et = 1u << 4, kCr0Ne = 1u << 5, kCr0Wp = 1u << 16,
                   kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1u << 5, kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10, kCr4Osxsave = 1u << 18;
constexpr uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;

// Flat descriptors: 64-bit code (L=1) and read/write data, accessed already (types 0xb and
// 0x3, as the segment registers hold them), so loading one writes nothing to the GDT.
constexpr uint64_t kGdt[] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = code ? 0 : 1;  // long-mode code requires D=0 with L=1
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

Status put_u64(GuestMemory& memory, uint64_t addr, uint64_t value) {
  uint8_t bytes[8];
  std::memcpy(bytes, &value, sizeof(value));
  return memory.write(GuestAddr{addr}, bytes);
}

}  // namespace

Status write_long_mode_tables(GuestMemory& memory) {
  const uint64_t size = memory.size();
  if (size % k2M != 0 || size > CRYPTINE_MEM_MAX || size < CRYPTINE_IMAGE_BASE)
    return Error(ErrorCode::kInvalidArgument, "guest memory must be a 2 MiB multiple in [4 MiB, 1 GiB]");

  for (size_t i = 0; i < sizeof(kGdt) / sizeof(kGdt[0]); ++i)
    CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_GDT_ADDR + 8 * i, kGdt[i]));

  CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_PML4_ADDR, CRYPTINE_PDPT_ADDR | kTable));
  CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_PDPT_ADDR, CRYPTINE_PD_ADDR | kTable));
  CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_PD_ADDR, CRYPTINE_PT0_ADDR | kTable));
  for (uint64_t i = 1; i < size / k2M; ++i)
    CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_PD_ADDR + 8 * i, i * k2M | kLeaf | kHuge));
  for (uint64_t i = 1; i < 512; ++i)  // entry 0 stays 0: page 0 is not present
    CRYPTINE_TRY_STATUS(put_u64(memory, CRYPTINE_PT0_ADDR + 8 * i, i * CRYPTINE_PAGE_SIZE | kLeaf));
  return {};
}

void set_long_mode_sregs(kvm_sregs& sregs, bool xsave, bool fsgsbase) {
  sregs.cs = flat_segment(CRYPTINE_GDT_CODE64, 0xb, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(CRYPTINE_GDT_DATA, 0x3, false);

  // A busy 64-bit TSS type keeps VM entry checks happy; the guest never switches tasks.
  sregs.tr = kvm_segment{};
  sregs.tr.limit = 0xffff;
  sregs.tr.type = 0xb;
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.type = 0x2;
  sregs.ldt.present = 1;
  sregs.ldt.unusable = 1;

  sregs.gdt.base = CRYPTINE_GDT_ADDR;
  sregs.gdt.limit = sizeof(kGdt) - 1;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;

  sregs.cr3 = CRYPTINE_PML4_ADDR;
  sregs.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt | (xsave ? kCr4Osxsave : 0) | (fsgsbase ? kCr4Fsgsbase : 0);
  sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  sregs.efer = kEferLme | kEferLma;
}

kvm_regs initial_regs(uint64_t entry) {
  kvm_regs regs{};
  regs.rip = entry;
  regs.rsp = CRYPTINE_STACK_TOP;
  regs.rdi = CRYPTINE_BOOTINFO_ADDR;
  regs.rflags = 0x2;  // bit 1 is reserved-one; interrupts off
  return regs;
}

kvm_fpu initial_fpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  return fpu;
}

}  // namespace cryptine
