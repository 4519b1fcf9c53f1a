// The ELF loader against malformed images, one corrupted field at a time.
#include "vmm/elf_loader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "tests/unit/elf_builder.h"

namespace cryptine {
namespace {

using testing_support::ElfBuilder;

constexpr uint64_t kMin = 0x400000;
constexpr uint64_t kLimit = 0x800000;

Result<ElfImage> parse(const ElfBuilder& b) {
  auto bytes = b.bytes();
  return parse_elf64(bytes, kMin, kLimit);
}

void ExpectInvalid(const ElfBuilder& b, const char* why) {
  auto r = parse(b);
  ASSERT_FALSE(r.ok()) << "accepted an image with " << why;
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidImage) << r.error().message();
}

TEST(ElfLoader, AcceptsMinimalImage) {
  auto r = parse(ElfBuilder::minimal({0x90, 0xf4}, 100));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->entry, 0x400000u);
  ASSERT_EQ(r->segments.size(), 1u);
  EXPECT_EQ(r->segments[0].file_size, 2u);
  EXPECT_EQ(r->segments[0].mem_size, 102u);
  EXPECT_EQ(r->end, 0x400000u + 102);
}

TEST(ElfLoader, RejectsEveryTruncationOfTheHeaders) {
  auto bytes = ElfBuilder::minimal().bytes();
  for (size_t len = 0; len < sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr); ++len) {
    auto r = parse_elf64(std::span(bytes).first(len), kMin, kLimit);
    EXPECT_FALSE(r.ok()) << "accepted a file truncated to " << len << " bytes";
  }
}

TEST(ElfLoader, RejectsWrongIdentity) {
  auto b = ElfBuilder::minimal();
  b.eh.e_ident[1] = 'X';
  ExpectInvalid(b, "bad magic");
  b = ElfBuilder::minimal();
  b.eh.e_ident[EI_CLASS] = ELFCLASS32;
  ExpectInvalid(b, "ELF32 class");
  b = ElfBuilder::minimal();
  b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
  ExpectInvalid(b, "big-endian data");
  b = ElfBuilder::minimal();
  b.eh.e_type = ET_DYN;
  ExpectInvalid(b, "ET_DYN");
  b = ElfBuilder::minimal();
  b.eh.e_machine = EM_AARCH64;
  ExpectInvalid(b, "aarch64 machine");
  b = ElfBuilder::minimal();
  b.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
  ExpectInvalid(b, "short phentsize");
}

TEST(ElfLoader, RejectsProgramHeadersOutsideTheFile) {
  auto b = ElfBuilder::minimal();
  b.eh.e_phoff = std::numeric_limits<uint64_t>::max() - 8;  // phoff + size overflows
  ExpectInvalid(b, "overflowing phoff");
  b = ElfBuilder::minimal();
  b.eh.e_phoff = b.bytes().size() - sizeof(Elf64_Phdr) + 1;  // one byte past the end
  ExpectInvalid(b, "phdrs one byte past the end");
}

TEST(ElfLoader, SegmentBoundsAgainstGuestMemory) {
  struct Case {
    uint64_t vaddr, memsz;
    bool ok;
  } cases[] = {
      {kMin, 1, true},                                      // first byte
      {kLimit - 1, 1, true},                                // last byte: exact fit
      {kLimit - 1, 2, false},                               // one byte past
      {kMin - 1, 1, false},                                 // one byte before
      {std::numeric_limits<uint64_t>::max(), 2, false},     // vaddr + memsz overflows
      {kMin, std::numeric_limits<uint64_t>::max(), false},  // oversized
  };
  for (const Case& c : cases) {
    auto b = ElfBuilder::minimal({});
    b.phdrs[0].p_vaddr = c.vaddr;
    b.phdrs[0].p_memsz = c.memsz;
    b.eh.e_entry = c.vaddr;
    auto r = parse(b);
    EXPECT_EQ(r.ok(), c.ok) << "vaddr " << c.vaddr << " memsz " << c.memsz
                            << (r.ok() ? "" : ": " + r.error().message());
  }
}

TEST(ElfLoader, RejectsFileBytesOutsideTheFile) {
  auto b = ElfBuilder::minimal({1, 2, 3, 4});
  b.phdrs[0].p_filesz = 5;  // one byte past the payload
  b.phdrs[0].p_memsz = 5;
  ExpectInvalid(b, "filesz one past the end");
  b = ElfBuilder::minimal({1, 2, 3, 4});
  b.phdrs[0].p_offset = std::numeric_limits<uint64_t>::max() - 1;
  ExpectInvalid(b, "offset + filesz overflowing");
  b = ElfBuilder::minimal({1, 2, 3, 4});
  b.phdrs[0].p_memsz = 3;  // filesz > memsz
  ExpectInvalid(b, "filesz > memsz");
}

TEST(ElfLoader, RejectsOverlapsAndMissingPieces) {
  auto b = ElfBuilder::minimal({0xf4, 0xf4});
  auto second = b.phdrs[0];
  second.p_vaddr = 0x400001;
  b.phdrs.push_back(second);
  ExpectInvalid(b, "overlapping segments");

  b = ElfBuilder::minimal();
  b.phdrs[0].p_type = PT_NOTE;
  ExpectInvalid(b, "no PT_LOAD");

  b = ElfBuilder::minimal();
  b.eh.e_entry = 0x400001;  // past the one-byte segment
  ExpectInvalid(b, "entry outside");

  b = ElfBuilder::minimal();
  b.phdrs[0].p_flags = PF_R | PF_W;
  ExpectInvalid(b, "entry in a non-executable segment");

  b = ElfBuilder::minimal();
  auto interp = b.phdrs[0];
  interp.p_type = PT_INTERP;
  b.phdrs.push_back(interp);
  ExpectInvalid(b, "PT_INTERP");
}

TEST(ElfLoader, AdjacentSegmentsAreNotAnOverlap) {
  auto b = ElfBuilder::minimal({0xf4, 0xf4});
  b.phdrs[0].p_filesz = b.phdrs[0].p_memsz = 1;
  auto second = b.phdrs[0];
  second.p_vaddr = 0x400001;
  b.phdrs.push_back(second);
  EXPECT_TRUE(parse(b).ok());
}

TEST(ElfLoader, LoadCopiesFileBytesAndZeroesTheRest) {
  auto memory = GuestMemory::create(kLimit);
  ASSERT_TRUE(memory.ok());
  ASSERT_TRUE(memory->fill(GuestAddr{kMin}, 0xcc, 16).ok());  // stale bytes to be zeroed
  auto bytes = ElfBuilder::minimal({0xde, 0xad, 0xbe, 0xef}, 4).bytes();
  auto image = parse_elf64(bytes, kMin, kLimit);
  ASSERT_TRUE(image.ok());
  ASSERT_TRUE(load_elf64(*image, bytes, *memory).ok());
  uint8_t got[10];
  ASSERT_TRUE(memory->read(GuestAddr{kMin}, got).ok());
  const uint8_t want[10] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0xcc, 0xcc};
  EXPECT_EQ(0, std::memcmp(got, want, sizeof(want)));
}

}  // namespace
}  // namespace cryptine
