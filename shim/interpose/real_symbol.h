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

// Set while the shim runs OpenSSL's own function. libcrypto calls its own exported
// functions through the PLT, so they reach the shim again from inside (the real
// EVP_DigestSign calls EVP_DigestSignUpdate and Final); such nested calls go straight to
// OpenSSL, routed and counted once.
inline thread_local int t_in_openssl = 0;

struct InOpenSsl {
  InOpenSsl() { ++t_in_openssl; }
  ~InOpenSsl() { --t_in_openssl; }
  InOpenSsl(const InOpenSsl&) = delete;
  InOpenSsl& operator=(const InOpenSsl&) = delete;
};

inline bool called_from_openssl() {
  return t_in_openssl > 0;
}

// Marks an interposed libcrypto function: the only symbols libcryptine.so exports.
#define CRYPTINE_EXPORT extern "C" __attribute__((visibility("default")))

#define CRYPTINE_REAL(fn)                                                 \
  ([] {                                                                   \
    static const auto real = ::cryptine::real_symbol<decltype(&fn)>(#fn); \
    return real;                                                          \
  }())

}  // namespace cryptine
