#include "vmm/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace cryptine {
namespace {

Error invalid(const std::string& why) {
  return Error(ErrorCode::kInvalidImage, "ELF: " + why);
}

// Copy, then check: headers are copied out of the file so alignment never matters.
template <typename T>
bool copy_out(std::span<const uint8_t> file, uint64_t offset, T* out) {
  if (!range_within(offset, sizeof(T), file.size())) return false;
  std::memcpy(out, file.data() + offset, sizeof(T));
  return true;
}

}  // namespace

Result<ElfImage> parse_elf64(std::span<const uint8_t> file, uint64_t load_min, uint64_t load_limit) {
  Elf64_Ehdr eh;
  if (!copy_out(file, 0, &eh)) return invalid("file shorter than the ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return invalid("bad magic");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return invalid("not ELF64");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return invalid("not little-endian");
  if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT) return invalid("unknown ELF version");
  if (eh.e_type != ET_EXEC) return invalid("not a static executable (e_type " + std::to_string(eh.e_type) + ")");
  if (eh.e_machine != EM_X86_64) return invalid("not x86-64");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) return invalid("unexpected program header size");
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) return invalid("no program headers");
  // phnum <= 0xffff and phentsize == 56, so the product cannot overflow.
  if (!range_within(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), file.size()))
    return invalid("program headers outside the file");

  ElfImage image{eh.e_entry, {}, 0};
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    copy_out(file, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr), &ph);
    const std::string which = "segment " + std::to_string(i) + ": ";
    if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) return invalid(which + "dynamic linking not supported");
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_filesz > ph.p_memsz) return invalid(which + "file size exceeds memory size");
    if (!range_within(ph.p_offset, ph.p_filesz, file.size())) return invalid(which + "file bytes outside the file");
    if (ph.p_vaddr < load_min || !range_within(ph.p_vaddr, ph.p_memsz, load_limit))
      return invalid(which + "outside guest memory [" + std::to_string(load_min) + ", " + std::to_string(load_limit) +
                     ")");
    image.segments.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, (ph.p_flags & PF_X) != 0});
  }
  if (image.segments.empty()) return invalid("no loadable segments");

  std::sort(image.segments.begin(), image.segments.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.guest_addr < b.guest_addr; });
  for (size_t i = 1; i < image.segments.size(); ++i) {
    const ElfSegment& prev = image.segments[i - 1];
    if (prev.guest_addr + prev.mem_size > image.segments[i].guest_addr) return invalid("overlapping segments");
  }
  const ElfSegment& last = image.segments.back();
  image.end = last.guest_addr + last.mem_size;

  const bool entry_ok = std::any_of(image.segments.begin(), image.segments.end(), [&](const ElfSegment& s) {
    return s.executable && image.entry >= s.guest_addr && image.entry < s.guest_addr + s.mem_size;
  });
  if (!entry_ok) return invalid("entry point not in an executable segment");
  return image;
}

Status load_elf64(const ElfImage& image, std::span<const uint8_t> file, GuestMemory& memory) {
  for (const ElfSegment& s : image.segments) {
    if (!range_within(s.file_offset, s.file_size, file.size())) return invalid("segment file bytes outside the file");
    CRYPTINE_TRY_STATUS(memory.write(GuestAddr{s.guest_addr}, file.subspan(s.file_offset, s.file_size)));
    CRYPTINE_TRY_STATUS(memory.fill(GuestAddr{s.guest_addr + s.file_size}, 0, s.mem_size - s.file_size));
  }
  return {};
}

}  // namespace cryptine
