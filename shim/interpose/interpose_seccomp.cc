// The doors through which a process confines itself: prctl(PR_SET_SECCOMP) and
// syscall(__NR_seccomp) (libseccomp uses the latter when the kernel has it, the former
// otherwise). The shim marks the process confined before the call reaches the kernel, so
// no other thread starts a virtine call under a filter that would kill it for the ioctl.
//
// No seccomp() is exported: glibc 2.36 has none, and a `seccomp` symbol appearing in a
// process would change what a program probing for it with dlsym() finds. A filter
// installed by a raw syscall instruction (not through libc) is not seen; one inherited
// across execve() is, at start (Runtime::start_virtines()).
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>

#include "shim/client/confinement.h"
#include "shim/client/stats_file.h"
#include "shim/interpose/real_symbol.h"

namespace {

// The next definition, without a function-static guard: libstdc++ waits on a contended
// guard with syscall(SYS_futex), which would come back here.
template <typename Fn>
Fn next(std::atomic<void*>& cache, const char* name) {
  void* p = cache.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = reinterpret_cast<void*>(cryptine::real_symbol<Fn>(name));  // the same answer for every thread
    cache.store(p, std::memory_order_release);
  }
  return reinterpret_cast<Fn>(p);
}
std::atomic<void*> g_prctl{nullptr}, g_syscall{nullptr};

// Both calls install something only when they return 0.
template <typename Call>
long confining(Call&& call) {
  cryptine::begin_confining();
  cryptine::quiesce_stats_file();  // no stats write still under way when the filter lands
  const long rc = call();
  cryptine::end_confining(rc == 0);
  return rc;
}

}  // namespace

// glibc's prctl reads four unsigned long arguments after the option whatever the option,
// and so does this one.
CRYPTINE_EXPORT int prctl(int option, ...) noexcept {
  va_list ap;
  va_start(ap, option);
  const unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long), a4 = va_arg(ap, unsigned long),
                      a5 = va_arg(ap, unsigned long);
  va_end(ap);
  const auto real = next<int (*)(int, ...)>(g_prctl, "prctl");
  if (option != PR_SET_SECCOMP) return real(option, a2, a3, a4, a5);
  return static_cast<int>(confining([&] { return real(option, a2, a3, a4, a5); }));
}

// syscall(2) passes six register-sized arguments on x86-64.
CRYPTINE_EXPORT long syscall(long number, ...) noexcept {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  const auto real = next<long (*)(long, ...)>(g_syscall, "syscall");
  auto forward = [&] { return real(number, a[0], a[1], a[2], a[3], a[4], a[5]); };
  if (number != SYS_seccomp) return forward();
  // a[0] is the operation. A filter with a NULL program installs nothing: libseccomp
  // probes the kernel's flags that way (EFAULT means "supported"), so it confines nothing.
  const bool installs = a[0] == SECCOMP_SET_MODE_STRICT || (a[0] == SECCOMP_SET_MODE_FILTER && a[2] != 0);
  if (!installs) return forward();
  return confining(forward);
}
