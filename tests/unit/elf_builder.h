// Builds small ELF64 files in memory so loader tests can corrupt one field at a time.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace cryptine::testing_support {

struct ElfBuilder {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> phdrs;
  std::vector<uint8_t> payload;  // placed right after the program headers

  // A valid image: one RX segment at 0x400000 holding `code`, plus `bss` zero bytes.
  static ElfBuilder minimal(std::vector<uint8_t> code = {0xf4}, uint64_t bss = 0) {
    ElfBuilder b;
    std::memcpy(b.eh.e_ident, ELFMAG, SELFMAG);
    b.eh.e_ident[EI_CLASS] = ELFCLASS64;
    b.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    b.eh.e_ident[EI_VERSION] = EV_CURRENT;
    b.eh.e_type = ET_EXEC;
    b.eh.e_machine = EM_X86_64;
    b.eh.e_version = EV_CURRENT;
    b.eh.e_entry = 0x400000;
    b.eh.e_phoff = sizeof(Elf64_Ehdr);
    b.eh.e_ehsize = sizeof(Elf64_Ehdr);
    b.eh.e_phentsize = sizeof(Elf64_Phdr);
    b.payload = std::move(code);
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_X;
    ph.p_vaddr = ph.p_paddr = 0x400000;
    ph.p_filesz = b.payload.size();
    ph.p_memsz = b.payload.size() + bss;
    ph.p_align = 0x1000;
    b.phdrs.push_back(ph);
    return b;
  }

  uint64_t payload_offset() const { return sizeof(Elf64_Ehdr) + phdrs.size() * sizeof(Elf64_Phdr); }

  // Serialises; segments whose p_offset is 0 point at the payload.
  std::vector<uint8_t> bytes() const {
    Elf64_Ehdr h = eh;
    h.e_phnum = static_cast<uint16_t>(phdrs.size());
    std::vector<uint8_t> out(payload_offset() + payload.size());
    std::memcpy(out.data(), &h, sizeof(h));
    for (size_t i = 0; i < phdrs.size(); ++i) {
      Elf64_Phdr p = phdrs[i];
      if (p.p_offset == 0) p.p_offset = payload_offset();
      std::memcpy(out.data() + sizeof(h) + i * sizeof(p), &p, sizeof(p));
    }
    if (!payload.empty()) std::memcpy(out.data() + payload_offset(), payload.data(), payload.size());
    return out;
  }
};

}  // namespace cryptine::testing_support
