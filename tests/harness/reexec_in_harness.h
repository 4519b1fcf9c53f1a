// For programs that need /dev/kvm (KVM tests, benchmarks): re-execute this same binary
// through run-in-kvm, which runs it here where the host's KVM is usable and inside the
// KVM harness where it is not (none, or kvm-pvm), instead of failing or skipping.
#pragma once

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cryptine::harness {

// Returns once run-in-kvm has chosen where this runs and /dev/kvm is there (otherwise
// exits 1).
inline void reexec_in_kvm_harness_if_needed(int argc, char** argv) {
  if (std::getenv("CRYPTINE_IN_KVM_HARNESS") != nullptr) {
    if (::access("/dev/kvm", R_OK | W_OK) == 0) return;
    std::fprintf(stderr, "%s: no usable /dev/kvm even after run-in-kvm chose where to run\n", argv[0]);
    std::exit(1);
  }
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::perror("readlink /proc/self/exe");
    std::exit(1);
  }
  self[n] = '\0';
  std::vector<char*> args = {const_cast<char*>(CRYPTINE_RUN_IN_KVM), self};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(CRYPTINE_RUN_IN_KVM, args.data());
  std::perror("exec " CRYPTINE_RUN_IN_KVM);
  std::exit(1);
}

}  // namespace cryptine::harness
