// The crypto guest booted once per test program, and host-OpenSSL helpers to compare with.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "tests/kvm/guest_image.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"
#include "vmm/watchdog.h"

namespace cryptine::testing_support {

using Bytes = std::vector<uint8_t>;

class CryptoGuest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    if (snapshot_ != nullptr) return;
    auto kvm = KvmSystem::open();
    ASSERT_TRUE(kvm.ok()) << kvm.error().message();
    kvm_ = new KvmSystem(std::move(kvm).value());
    std::ifstream in(CRYPTINE_GUEST_IMAGE, std::ios::binary);
    const Bytes image{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    ASSERT_FALSE(image.empty()) << "cannot read " << CRYPTINE_GUEST_IMAGE;
    const uint64_t t0 = monotonic_ns();
    auto v = Virtine::boot(*kvm_, image, VirtineConfig{});
    ASSERT_TRUE(v.ok()) << v.error().message();
    auto call = v->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    ASSERT_EQ(call->kind, HypercallKind::kSnapshot);
    auto snap = v->take_snapshot(*kvm_);
    ASSERT_TRUE(snap.ok()) << snap.error().message();
    const uint64_t t1 = monotonic_ns();
    snapshot_ = new std::shared_ptr<const Snapshot>(*snap);
    std::fprintf(stderr,
                 "crypto guest: image %zu bytes, boot to snapshot %.1f ms, %llu exits, snapshot %llu non-zero pages "
                 "(%.1f MiB)\n",
                 image.size(), (t1 - t0) / 1e6, static_cast<unsigned long long>(v->counters().exits),
                 static_cast<unsigned long long>((*snapshot_)->nonzero_pages()),
                 (*snapshot_)->nonzero_pages() * 4096.0 / (1 << 20));
  }

 protected:
  void SetUp() override {
    ASSERT_NE(snapshot_, nullptr);
    v_ = fresh();
    ASSERT_NE(v_, nullptr);
  }

  // One request that runs no crypto: the mailbox holds the snapshot's bytes, no request,
  // so the guest answers BAD_REQUEST, touching no vector register and no MSR.
  void RunEmptyRequest() {
    auto call = v_->run();
    ASSERT_TRUE(call.ok()) << call.error().message();
    ASSERT_EQ(call->kind, HypercallKind::kDone);
  }

  static std::unique_ptr<Virtine> fresh() {
    auto v = Virtine::from_snapshot(*kvm_, *snapshot_, VirtineConfig{});
    EXPECT_TRUE(v.ok()) << v.error().message();
    return v.ok() ? std::make_unique<Virtine>(std::move(v).value()) : nullptr;
  }

  static inline KvmSystem* kvm_ = nullptr;
  static inline std::shared_ptr<const Snapshot>* snapshot_ = nullptr;
  std::unique_ptr<Virtine> v_;
};

inline Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

inline Bytes random_bytes(size_t n) {
  Bytes b(n);
  if (n) RAND_bytes(b.data(), static_cast<int>(n));
  return b;
}

}  // namespace cryptine::testing_support
