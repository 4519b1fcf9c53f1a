// bench/virtine-memory: what an idle pooled virtine costs the machine, for several guest
// memory sizes. For each size it boots the crypto guest to its snapshot, then makes N
// virtines from it (as a pool does: a VM, its memslot, a vCPU set to the snapshot's
// state), twice: idle (nothing run yet) and used (one SHA-256 and HMAC-SHA-256 call each,
// then reset, as a pool keeps a released virtine), and reports per virtine the drop of MemAvailable (the machine's
// view, KVM's kernel memory included), and the growth of this process's RSS and PSS
// (smaps_rollup: the snapshot's shared pages counted once, not per mapping).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "shim/client/guest_ops.h"
#include "tests/harness/reexec_in_harness.h"
#include "vmm/kvm_system.h"
#include "vmm/virtine.h"

namespace cryptine {
namespace {

// A "Name:   value kB" line of a /proc file, in KiB; -1 if absent.
long proc_kib(const char* path, const char* name) {
  std::ifstream in(path);
  std::string line;
  const size_t n = std::strlen(name);
  while (std::getline(in, line))
    if (line.compare(0, n, name) == 0 && line.size() > n && line[n] == ':') return std::atol(line.c_str() + n + 1);
  return -1;
}

struct Sample {
  long available, rss, pss;
};
Sample sample() {
  return {proc_kib("/proc/meminfo", "MemAvailable"), proc_kib("/proc/self/status", "VmRSS"),
          proc_kib("/proc/self/smaps_rollup", "Pss")};
}

// One SHA-256 and one HMAC-SHA-256 of a KiB, then the reset a pool does on release.
Status use_once(Virtine& v) {
  const std::vector<uint8_t> data(1024, 0x5a), key(32, 0x6b);
  CRYPTINE_TRY(guest::digest(v, "SHA256", data));
  CRYPTINE_TRY(guest::hmac(v, "SHA256", key, data));
  return v.reset();
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int run(int argc, char** argv) {
  int count = 1000;
  std::vector<uint64_t> sizes_mib = {16, 32, 64};
  const char* csv = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      count = 100;
    } else if (!std::strcmp(argv[i], "--count") && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick | --count N] [--csv FILE]\n", argv[0]);
      return 2;
    }
  }
  if (count <= 0) return 2;
  rlimit files{};  // two fds per virtine (the VM, its vCPU)
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  auto kvm = KvmSystem::open();
  if (!kvm.ok()) {
    std::fprintf(stderr, "virtine-memory: %s\n", kvm.error().message().c_str());
    return 1;
  }
  const std::vector<uint8_t> image = read_file(CRYPTINE_GUEST_IMAGE);
  if (image.empty()) {
    std::fprintf(stderr, "virtine-memory: cannot read %s\n", CRYPTINE_GUEST_IMAGE);
    return 1;
  }

  std::printf("%-10s %-6s %8s %16s %12s %12s\n", "guest_mib", "state", "virtines", "available_kib", "rss_kib",
              "pss_kib");
  std::FILE* out = csv != nullptr ? std::fopen(csv, "w") : nullptr;
  if (out != nullptr) std::fprintf(out, "guest_mib,state,virtines,available_kib_per,rss_kib_per,pss_kib_per\n");
  const uint64_t default_mib = VirtineConfig{}.mem_size >> 20;
  double idle_at_default = -1;  // KiB per idle virtine at the default guest memory
  for (uint64_t mib : sizes_mib) {
    VirtineConfig config;
    config.mem_size = mib << 20;
    auto booted = Virtine::boot(*kvm, image, config);
    if (!booted.ok()) {
      std::fprintf(stderr, "virtine-memory: %llu MiB: %s\n", static_cast<unsigned long long>(mib),
                   booted.error().message().c_str());
      return 1;
    }
    auto call = booted->run();
    if (!call.ok() || call->kind != HypercallKind::kSnapshot) {
      std::fprintf(stderr, "virtine-memory: %llu MiB: the guest did not reach its snapshot\n",
                   static_cast<unsigned long long>(mib));
      return 1;
    }
    auto snapshot = booted->take_snapshot(*kvm);
    if (!snapshot.ok()) return 1;
    for (const bool used : {false, true}) {
      std::vector<Virtine> pool;
      pool.reserve(static_cast<size_t>(count));
      const Sample before = sample();
      for (int i = 0; i < count; ++i) {
        auto v = Virtine::from_snapshot(*kvm, *snapshot, config);
        Status s = v.ok() ? Status{} : Status(v.error());
        if (s.ok() && used) s = use_once(*v);
        if (!s.ok()) {
          std::fprintf(stderr, "virtine-memory: virtine %d: %s\n", i, s.error().message().c_str());
          return 1;
        }
        pool.push_back(std::move(v).value());
      }
      const Sample after = sample();
      const double n = count;
      const double available = static_cast<double>(before.available - after.available) / n;
      const double rss = static_cast<double>(after.rss - before.rss) / n;
      const double pss = static_cast<double>(after.pss - before.pss) / n;
      const char* state = used ? "used" : "idle";
      if (!used && mib == default_mib) idle_at_default = available;
      std::printf("%-10llu %-6s %8d %16.1f %12.1f %12.1f\n", static_cast<unsigned long long>(mib), state, count,
                  available, rss, pss);
      if (out != nullptr)
        std::fprintf(out, "%llu,%s,%d,%.1f,%.1f,%.1f\n", static_cast<unsigned long long>(mib), state, count, available,
                     rss, pss);
    }
  }
  if (out != nullptr) std::fclose(out);
  std::printf(
      "\nper virtine made from the snapshot; available_kib is the machine's MemAvailable drop, kernel\n"
      "memory included; rss and pss are this process's.\n");
  // Issue 15's memory targets, at the default guest memory (checked here, never in a test).
  if (idle_at_default >= 0) {
    const auto target = [](const char* what, double measured, double limit) {
      if (measured <= limit)
        std::printf("  [met] %s (measured: %.1f)\n", what, measured);
      else
        std::printf("  [MISSED by %.1f] %s (measured: %.1f)\n", measured - limit, what, measured);
    };
    std::printf("targets (idle virtines at the default %llu MiB of guest memory, measured over %d):\n",
                static_cast<unsigned long long>(default_mib), count);
    target("at most 256 KiB of machine memory per idle pooled virtine", idle_at_default, 256);
    target("1,000 idle pooled virtines in at most 256 MiB", idle_at_default * 1000 / 1024, 256);
  }
  return 0;
}

}  // namespace
}  // namespace cryptine

int main(int argc, char** argv) {
  cryptine::harness::reexec_in_kvm_harness_if_needed(argc, argv);
  return cryptine::run(argc, argv);
}
