// main() for tests that need /dev/kvm: where the host has none, they run inside the KVM
// harness (a QEMU microVM with nested SVM) instead of skipping.
#include <gtest/gtest.h>

#include "tests/harness/reexec_in_harness.h"

int main(int argc, char** argv) {
  cryptine::harness::reexec_in_kvm_harness_if_needed(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
