// bench/virtine-latency: the virtine start-up measures of the Virtines paper (Fig. 11)
// on this monitor, each as median and spread over many runs, with the exits, pages
// restored, VM creations and mmap calls per operation, and the targets checked:
// a start from the snapshot and a pool hit create no VM and map nothing, and a null
// call is exactly one exit. Also what opening guest memory's protection key costs (one
// outermost GuestMemoryAccess: RDPKRU and WRPKRU to open, the same to close); run it
// again with CRYPTINE_PKU=0 for every measure without the key. The pool hit and the null
// call, the yardstick it is judged by, are timed in alternation, and so are the null call
// and one without the run's deadline, whose difference is what the deadline costs.
// --null-call times only the null call and prints its median, for a benchmark to time
// beside its own cases.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tests/harness/reexec_in_harness.h"
#include "vmm/counters.h"
#include "vmm/guest_memory_access.h"
#include "vmm/kvm_system.h"
#include "vmm/kvm_vcpu_stats.h"
#include "vmm/virtine.h"
#include "vmm/virtine_pool.h"
#include "vmm/watchdog.h"

namespace cryptine {
namespace {

struct Row {
  std::string name;
  std::string what;
  std::vector<double> us;
  double exits = 0, kvm_exits = 0, pages = 0, creations = 0, mappings = 0;  // per operation

  double percentile(double p) const {
    std::vector<double> v = us;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
  }
};

void exit_unless_ok(const char* name, const Status& s) {
  if (s.ok()) return;
  std::fprintf(stderr, "virtine-latency: %s: %s\n", name, s.error().message().c_str());
  std::exit(1);
}

// KVM's own exits per operation, from a pass of their own: reading them costs four preads
// per run, which the timed runs must not include (a null call is the yardstick of every
// other figure).
double kvm_exits_per_op(const char* name, int iterations, const std::function<Status()>& op) {
  set_kvm_exit_counting(true);
  const auto before = vmm_counters().read();
  for (int i = 0; i < iterations; ++i) exit_unless_ok(name, op());
  const auto after = vmm_counters().read();
  set_kvm_exit_counting(false);
  return static_cast<double>(after.kvm_exits - before.kvm_exits) / iterations;
}

// One operation being measured: its timed runs, and what each run counted.
class Sampling {
 public:
  Sampling(const char* name, const char* what, const std::function<Status()>& op) : row_{name, what, {}}, op_(op) {}

  void warm_up(int runs) {
    for (int i = 0; i < runs; ++i) exit_unless_ok(row_.name.c_str(), op_());
  }

  // One run, timed alone: the counters are read outside the timed span.
  void run_timed() {
    const auto before = vmm_counters().read();
    const uint64_t t0 = monotonic_ns();
    Status s = op_();
    const uint64_t t1 = monotonic_ns();
    const auto after = vmm_counters().read();
    exit_unless_ok(row_.name.c_str(), s);
    row_.us.push_back(static_cast<double>(t1 - t0) / 1000.0);
    exits_ += after.exits - before.exits;
    pages_ += after.pages_restored - before.pages_restored;
    creations_ += after.creations - before.creations;
    mappings_ += after.mappings - before.mappings;
  }

  // The row: per operation over the timed runs, then KVM's exits over as many runs again.
  Row finish() {
    const int runs = static_cast<int>(row_.us.size());
    const double n = runs;
    row_.exits = static_cast<double>(exits_) / n;
    row_.pages = static_cast<double>(pages_) / n;
    row_.creations = static_cast<double>(creations_) / n;
    row_.mappings = static_cast<double>(mappings_) / n;
    row_.kvm_exits = kvm_exits_per_op(row_.name.c_str(), runs, op_);
    return row_;
  }

 private:
  Row row_;
  const std::function<Status()>& op_;
  uint64_t exits_ = 0, pages_ = 0, creations_ = 0, mappings_ = 0;
};

// Runs op `iterations` times (after `warmup` unmeasured runs), then counts KVM's exits
// over as many runs again; any error aborts.
Row measure(const char* name, const char* what, int warmup, int iterations, const std::function<Status()>& op) {
  Sampling sampling(name, what, op);
  sampling.warm_up(warmup);
  for (int i = 0; i < iterations; ++i) sampling.run_timed();
  std::fprintf(stderr, "  measured %-15s (%d runs)\n", name, iterations);
  return sampling.finish();
}

// Times a and b in alternation, kBlock runs of one then kBlock of the other, so both see
// the same moments of a machine whose speed moves (the harness's emulated CPU shares the
// host): the ratio of their medians is then not skewed by when each ran. In blocks, not
// one by one: the first run after a switch pays for the other's VM (its vCPU loaded, its
// pages cold), which a median over blocks leaves out. Counts come from the same runs.
std::pair<Row, Row> measure_alternating(const char* a_name, const char* a_what, const std::function<Status()>& a,
                                        const char* b_name, const char* b_what, const std::function<Status()>& b,
                                        int warmup, int iterations) {
  Sampling samplings[2] = {{a_name, a_what, a}, {b_name, b_what, b}};
  for (Sampling& sampling : samplings) sampling.warm_up(warmup);
  constexpr int kBlock = 16;
  for (int done = 0; done < iterations; done += kBlock)
    for (Sampling& sampling : samplings)
      for (int i = done; i < std::min(iterations, done + kBlock); ++i) sampling.run_timed();
  std::fprintf(stderr, "  measured %s and %s, alternating in blocks of %d (%d runs each)\n", a_name, b_name, kBlock,
               iterations);
  return {samplings[0].finish(), samplings[1].finish()};
}

Status expect_hypercall(Result<Hypercall> call, HypercallKind want) {
  if (!call.ok()) return std::move(call).error();
  if (call->kind != want)
    return Error(ErrorCode::kGuestFault, "unexpected hypercall " + std::string(hypercall_name(call->kind)));
  return {};
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int run(int argc, char** argv) {
  int scale = 1;
  bool null_call_only = false;
  const char* csv = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      scale = 0;
    } else if (!std::strcmp(argv[i], "--null-call")) {
      null_call_only = true;
    } else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc) {
      csv = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--csv FILE] [--null-call]\n", argv[0]);
      return 2;
    }
  }
  const int many = scale ? 2000 : 100, some = scale ? 200 : 20, few = scale ? 30 : 5;
  // The monitor as the shim runs it when nothing reads its times (vmm/counters.h): the
  // yardstick must not carry clock reads that the calls judged by it no longer make.
  set_timing(false);

  auto kvm = KvmSystem::open();
  if (!kvm.ok()) {
    std::fprintf(stderr, "virtine-latency: %s\n", kvm.error().message().c_str());
    return 1;
  }
  const std::vector<uint8_t> image = read_file(std::string(CRYPTINE_TEST_GUEST_DIR) + "/null-call.elf");
  if (image.empty()) {
    std::fprintf(stderr, "virtine-latency: cannot read the null-call guest\n");
    return 1;
  }
  const VirtineConfig config;
  const int pkey = guest_memory_pkey();
  std::fprintf(stderr, "virtine-latency: guest null-call.elf, %llu MiB guest memory, %s\n",
               static_cast<unsigned long long>(config.mem_size >> 20),
               pkey >= 0 ? "guest memory behind a protection key" : "no protection key (guard pages only)");

  // The snapshot every other measure starts from.
  auto first = Virtine::boot(*kvm, image, config);
  if (!first.ok() || !first->run().ok()) {
    std::fprintf(stderr, "virtine-latency: cannot boot the null-call guest\n");
    return 1;
  }
  auto snapshot = first->take_snapshot(*kvm);
  if (!snapshot.ok()) {
    std::fprintf(stderr, "virtine-latency: snapshot: %s\n", snapshot.error().message().c_str());
    return 1;
  }

  auto reused = Virtine::from_snapshot(*kvm, *snapshot, config);
  if (!reused.ok()) return 1;
  auto null_call_run = [&]() -> Status { return expect_hypercall(reused->run(), HypercallKind::kDone); };
  if (null_call_only) {  // the yardstick alone, for a benchmark to time beside its own case
    const Row row = measure("null-call", "one request to a running virtine: DONE and back", 10, many, null_call_run);
    std::printf("%.1f\n", row.percentile(0.5));
    return 0;
  }

  std::vector<Row> rows;
  rows.push_back(measure("cold-start", "create VM + load image + boot to first hypercall", 2, few, [&]() -> Status {
    auto v = CRYPTINE_TRY(Virtine::boot(*kvm, image, config));
    return expect_hypercall(v.run(), HypercallKind::kSnapshot);
  }));
  rows.push_back(
      measure("snapshot-new-vm", "create VM from snapshot + run to first hypercall", 2, few, [&]() -> Status {
        auto v = CRYPTINE_TRY(Virtine::from_snapshot(*kvm, *snapshot, config));
        return expect_hypercall(v.run(), HypercallKind::kDone);
      }));
  rows.push_back(measure("snapshot-start", "reset an existing VM to the snapshot + run to first hypercall", 10, some,
                         [&]() -> Status {
                           CRYPTINE_TRY_STATUS(reused->reset());
                           return expect_hypercall(reused->run(), HypercallKind::kDone);
                         }));
  VirtinePool pool(*kvm, *snapshot, config, 1);
  if (!pool.fill().ok()) return 1;
  // The null call is the yardstick the pool hit is judged by (and every ratio in the
  // reports): timed in alternation with it.
  auto [pool_hit, null_call] = measure_alternating(
      "pool-hit", "acquire from the pool + run + release (reset)",
      [&]() -> Status {
        auto v = CRYPTINE_TRY(pool.acquire());
        Status s = expect_hypercall(v.run(), HypercallKind::kDone);
        pool.release(std::move(v));
        return s;
      },
      "null-call", "one request to a running virtine: DONE and back", null_call_run, 10, many);
  rows.push_back(pool_hit);
  rows.push_back(null_call);
  // What the run's deadline (vmm/watchdog.h: the run noted for the thread's timer, which
  // stays set across calls) costs a call: the null call again, alternated with one that
  // has no limit.
  auto [with_deadline, no_deadline] = measure_alternating(
      "null-call", "one request to a running virtine: DONE and back", null_call_run, "null-no-deadline",
      "the same without the run's deadline (run(0): not judged by the thread's timer)",
      [&]() -> Status { return expect_hypercall(reused->run(0), HypercallKind::kDone); }, 10, many);
  rows.push_back(no_deadline);
  // Too short to time one by one: each sample is the mean over a batch.
  constexpr int kScopesPerSample = 1000;
  Row scope = measure("key-open-close", "open + close guest memory (outermost GuestMemoryAccess), x1000", 10, many,
                      [&]() -> Status {
                        for (int i = 0; i < kScopesPerSample; ++i) {
                          const GuestMemoryAccess open;
                          asm volatile("" : : : "memory");  // each scope is kept, not merged
                        }
                        return {};
                      });
  rows.push_back(scope);

  std::printf("\n%-16s %10s %10s %10s %7s %9s %7s %9s %6s  %s\n", "measure", "median_us", "p10_us", "p90_us", "exits",
              "kvm_exits", "pages", "creations", "mmaps", "what");
  for (const Row& r : rows)
    std::printf("%-16s %10.1f %10.1f %10.1f %7.2f %9.2f %7.2f %9.2f %6.2f  %s\n", r.name.c_str(), r.percentile(0.5),
                r.percentile(0.1), r.percentile(0.9), r.exits, r.kvm_exits, r.pages, r.creations, r.mappings,
                r.what.c_str());
  std::printf("\nexits: seen by user space; kvm_exits: all of them, KVM's own included (its binary statistics).\n");
  std::printf("the run's deadline: %.1f us of a null call (%.1f us, timed beside one without it)\n",
              with_deadline.percentile(0.5) - no_deadline.percentile(0.5), with_deadline.percentile(0.5));
  std::printf("guest memory key: %s; one open + close: median %.1f ns (p10 %.1f, p90 %.1f)\n",
              pkey >= 0 ? ("pkey " + std::to_string(pkey)).c_str() : "none (CRYPTINE_PKU=0 or no pku/ospke)",
              scope.percentile(0.5) * 1000.0 / kScopesPerSample, scope.percentile(0.1) * 1000.0 / kScopesPerSample,
              scope.percentile(0.9) * 1000.0 / kScopesPerSample);

  auto find = [&](const char* name) -> const Row& {
    return *std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.name == name; });
  };
  struct Target {
    const char* text;
    bool met;
    std::string detail;
  };
  auto per_op = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", v);
    return std::string(buf);
  };
  const Target targets[] = {
      {"snapshot-start: 0 VM creations and 0 mmap calls per operation",
       find("snapshot-start").creations == 0 && find("snapshot-start").mappings == 0,
       per_op(find("snapshot-start").creations) + " creations, " + per_op(find("snapshot-start").mappings) + " mmaps"},
      {"pool-hit: 0 VM creations and 0 mmap calls per operation",
       find("pool-hit").creations == 0 && find("pool-hit").mappings == 0,
       per_op(find("pool-hit").creations) + " creations, " + per_op(find("pool-hit").mappings) + " mmaps"},
      {"null-call: exactly 1 exit per call", find("null-call").exits == 1.0,
       per_op(find("null-call").exits) + " exits"},
  };
  std::printf("\ntargets:\n");
  for (const Target& t : targets)
    std::printf("  [%s] %s (measured: %s)\n", t.met ? "met" : "MISSED", t.text, t.detail.c_str());
  std::printf(
      "\nTimes come from this machine; under the KVM harness the CPU is emulated, so only the counts\n"
      "and the ratios between rows carry over to real hardware.\n");

  if (csv != nullptr) {
    std::FILE* f = std::fopen(csv, "w");
    if (f == nullptr) {
      std::perror(csv);
      return 1;
    }
    std::fprintf(f,
                 "measure,median_us,p10_us,p90_us,exits_per_op,kvm_exits_per_op,pages_per_op,creations_per_op,"
                 "mmaps_per_op\n");
    for (const Row& r : rows)
      std::fprintf(f, "%s,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f,%.3f,%.3f\n", r.name.c_str(), r.percentile(0.5),
                   r.percentile(0.1), r.percentile(0.9), r.exits, r.kvm_exits, r.pages, r.creations, r.mappings);
    std::fclose(f);
  }
  return 0;
}

}  // namespace
}  // namespace cryptine

int main(int argc, char** argv) {
  cryptine::harness::reexec_in_kvm_harness_if_needed(argc, argv);
  return cryptine::run(argc, argv);
}
