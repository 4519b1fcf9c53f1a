// The next definition of an interposed libcrypto function (the program's real one).
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace cryptine {

// Looked up once per function; a libcrypto without it cannot have called us.
template <typename Fn>
Fn real_symbol(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    std::fprintf(stderr, "cryptine: no next definition of %s: %s\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(p);
}

#define CRYPTINE_REAL(fn) ([] {                                      \
  static const auto real = ::cryptine::real_symbol<decltype(&fn)>(#fn); \
  return real;                                                       \
}())

}  // namespace cryptine
