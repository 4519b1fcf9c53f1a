// main() for tests that need /dev/kvm: where the host has none, re-run this same binary
// inside the KVM harness (a QEMU microVM with nested SVM) instead of skipping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    if (std::getenv("CRYPTINE_IN_KVM_HARNESS") != nullptr) {
      std::fprintf(stderr, "%s: no usable /dev/kvm even inside the KVM harness\n", argv[0]);
      return 1;
    }
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
      std::perror("readlink /proc/self/exe");
      return 1;
    }
    self[n] = '\0';
    ::setenv("CRYPTINE_IN_KVM_HARNESS", "1", 1);
    std::vector<char*> args = {const_cast<char*>(CRYPTINE_RUN_IN_KVM), self};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    ::execv(CRYPTINE_RUN_IN_KVM, args.data());
    std::perror("exec " CRYPTINE_RUN_IN_KVM);
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
