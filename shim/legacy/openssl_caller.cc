#include "shim/legacy/openssl_caller.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "shim/interpose/real_symbol.h"

namespace cryptine::legacy {
namespace {

// The address ranges of libcrypto and libssl, learnt at their first call: OpenSSL's own
// calls (the hot ones, under every native digest) then cost two compares, no dladdr.
struct Range {
  std::atomic<uintptr_t> lo{0}, hi{0};
};
Range g_ranges[4];  // claimed by a CAS on hi, published by lo: no lock a fork could inherit

bool known(uintptr_t a) {
  for (const Range& r : g_ranges) {
    const uintptr_t lo = r.lo.load(std::memory_order_acquire);
    if (lo != 0 && a >= lo && a < r.hi.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

bool openssl_library(const char* path) {
  const char* base = std::strrchr(path, '/');
  base = base != nullptr ? base + 1 : path;
  return std::strncmp(base, "libcrypto.so", 12) == 0 || std::strncmp(base, "libssl.so", 9) == 0;
}

struct Search {
  uintptr_t address, lo, hi;
};

// The span of the loaded object's segments that holds the address.
int find_span(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    lo = std::min<uintptr_t>(lo, info->dlpi_addr + ph.p_vaddr);
    hi = std::max<uintptr_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  if (s->address < lo || s->address >= hi) return 0;
  s->lo = lo;
  s->hi = hi;
  return 1;
}

void remember(uintptr_t a) {
  Search s{a, 0, 0};
  if (dl_iterate_phdr(find_span, &s) == 0) return;
  for (Range& r : g_ranges) {
    uintptr_t free = 0;
    if (!r.hi.compare_exchange_strong(free, s.hi, std::memory_order_relaxed)) continue;
    r.lo.store(s.lo, std::memory_order_release);  // published last: readers check lo first
    return;
  }  // all taken (a library loaded twice?): later calls take the dladdr path
}

}  // namespace

bool called_by_openssl_code(const void* return_address) {
  if (called_from_openssl()) return true;
  const auto a = reinterpret_cast<uintptr_t>(return_address);
  if (known(a)) return true;
  Dl_info info;
  if (dladdr(return_address, &info) == 0 || info.dli_fname == nullptr || !openssl_library(info.dli_fname)) return false;
  remember(a);
  return true;
}

}  // namespace cryptine::legacy
