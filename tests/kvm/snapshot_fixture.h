// Boots a test guest to its SNAPSHOT hypercall and records the snapshot.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/kvm/guest_image.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine::testing_support {

struct SnapshotOf {
  std::unique_ptr<KvmSystem> kvm;
  std::shared_ptr<const Snapshot> snapshot;
  std::unique_ptr<Virtine> booted;  // the virtine that booted and took the snapshot
};

// For guests that write MSRs after their snapshot (dirty.asm): without the MSR filter, so
// their writes are taken and a reset restores every MSR by value.
inline VirtineConfig msr_writes_allowed() {
  VirtineConfig config;
  config.deny_msr_writes = false;
  return config;
}

// Fails the current test (and returns empty pointers) if anything goes wrong.
inline SnapshotOf snapshot_of(const std::string& guest, const VirtineConfig& config = {}) {
  SnapshotOf out;
  auto kvm = KvmSystem::open();
  EXPECT_TRUE(kvm.ok()) << kvm.error().message();
  if (!kvm.ok()) return out;
  out.kvm = std::make_unique<KvmSystem>(std::move(kvm).value());
  auto v = Virtine::boot(*out.kvm, read_test_guest(guest), config);
  EXPECT_TRUE(v.ok()) << v.error().message();
  if (!v.ok()) return out;
  auto call = v->run();
  EXPECT_TRUE(call.ok() && call->kind == HypercallKind::kSnapshot) << guest << " did not make SNAPSHOT";
  if (!call.ok() || call->kind != HypercallKind::kSnapshot) return out;
  auto snap = v->take_snapshot(*out.kvm);
  EXPECT_TRUE(snap.ok()) << snap.error().message();
  if (!snap.ok()) return out;
  out.snapshot = *snap;
  out.booted = std::make_unique<Virtine>(std::move(v).value());
  return out;
}

}  // namespace cryptine::testing_support
