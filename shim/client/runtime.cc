#include "shim/client/runtime.h"

#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <new>
#include <optional>
#include <vector>

#include "shim/client/confinement.h"
#include "shim/client/stats_file.h"
#include "shim/client/stats_output.h"
#include "vmm/counters.h"
#include "vmm/kvm_vcpu_stats.h"
#include "vmm/process_fork.h"
#include "vmm/watchdog.h"

#ifndef CRYPTINE_DEFAULT_GUEST
#define CRYPTINE_DEFAULT_GUEST "/usr/local/libexec/cryptine/cryptine-guest.elf"
#endif

namespace cryptine {
namespace {

// The digests and ciphers the legacy API serves when CRYPTINE_ALGS is unset (it may narrow
// them). Names as OpenSSL knows them.
const char* const kSupported[] = {"SHA1",        "SHA224",      "SHA256",      "SHA384",           "SHA512",
                                  "SHA3-256",    "AES-128-ECB", "AES-192-ECB", "AES-256-ECB",      "AES-128-CBC",
                                  "AES-192-CBC", "AES-256-CBC", "AES-128-CTR", "AES-192-CTR",      "AES-256-CTR",
                                  "AES-128-GCM", "AES-192-GCM", "AES-256-GCM", "AES-128-CFB",      "AES-256-CFB",
                                  "AES-128-OFB", "AES-256-OFB", "ChaCha20",    "ChaCha20-Poly1305"};

// Served only by the provider, which reads CRYPTINE_ALGS itself (provider/algorithm_filter.h).
const char* const kProviderOnly[] = {"hmac", "hkdf",  "tls13-kdf", "tls1-prf", "pbkdf2", "rsa",
                                     "ec",   "ecdsa", "ecdh",      "x25519",   "ed25519"};

// Both are held for long (a Runtime's construction, the guest's boot): fork() does not
// wait for them, and a child that inherits one held (by a thread it does not have) makes
// it anew and forgets what that thread was building (Runtime::after_fork_in_child).
std::mutex g_runtime_mu;  // making the Runtime
std::atomic<Runtime*> g_runtime{nullptr};
StatsOutput g_stats_output = StatsOutput::kNone;  // set at load
std::mutex g_start_mu;                            // kvm_, snapshot_, snapshot_generation_, started_

// A thread's pool, rebuilt when the process has forked since it was made: the parent's
// VMs belong to the parent (dropping them only closes fds and unmaps memory).
struct ThreadPool {
  std::unique_ptr<VirtinePool> pool;
  uint64_t generation = 0;
  ~ThreadPool();
};
thread_local ThreadPool t_pool;
// Set once t_pool is destroyed (thread exit; for the main thread, exit()): OpenSSL's own
// clean-up may free contexts after that, and must then find no pool rather than a dead one.
thread_local bool t_pool_destroyed = false;
ThreadPool::~ThreadPool() {
  t_pool_destroyed = true;
}

}  // namespace

// Never destroyed (threads and atexit handlers may outlive statics). Not a function-local
// static: a child forked while another thread is in its constructor would wait forever on
// its guard.
Runtime& Runtime::get() {
  if (Runtime* rt = g_runtime.load(std::memory_order_acquire); rt != nullptr) return *rt;
  std::lock_guard lock(g_runtime_mu);
  if (g_runtime.load(std::memory_order_relaxed) == nullptr) g_runtime.store(new Runtime(), std::memory_order_release);
  return *g_runtime.load(std::memory_order_relaxed);
}

// Only the forking thread lives on in the child. A lock it finds held belonged to another
// thread, caught mid-way: a Runtime being made (not yet published: the child makes its
// own) or the guest's boot or a snapshot's remapping (kvm_ and snapshot_ may be half
// written: forgotten, never touched, and the child boots anew). Leaks once, hangs never.
void Runtime::after_fork_in_child() {
  // The child counts its own calls from 0, as the monitor's counters (vmm/counters.h) do;
  // it starts its VMs from the parent's snapshot, so it has no boot of its own to leave out.
  shim_counters().zero_atomics_after_fork();
  if (g_runtime_mu.try_lock())
    g_runtime_mu.unlock();
  else
    new (&g_runtime_mu) std::mutex();
  if (g_start_mu.try_lock()) {
    g_start_mu.unlock();
    return;
  }
  new (&g_start_mu) std::mutex();
  if (Runtime* rt = g_runtime.load(std::memory_order_relaxed); rt != nullptr) {
    (void)rt->kvm_.release();
    new (&rt->snapshot_) std::shared_ptr<const Snapshot>();
    rt->started_.store(0);
  }
}

Runtime::Runtime() {
  std::vector<std::string> warnings;
  config_ = parse_config([](const char* name) { return std::getenv(name); }, &warnings);
  for (const std::string& w : warnings) std::fprintf(stderr, "cryptine: %s\n", w.c_str());

  if (config_.algs.empty()) {
    for (const char* name : kSupported) enable(name, false);
  } else {
    for (const std::string& name : config_.algs) enable(name, true);
  }
}

void Runtime::enable(const std::string& name, bool warn_unknown) {
  if (const EVP_MD* md = EVP_get_digestbyname(name.c_str()); md != nullptr) {
    enabled_digests_.insert(EVP_MD_get_type(md));
    return;
  }
  if (const EVP_CIPHER* cipher = EVP_get_cipherbyname(name.c_str()); cipher != nullptr) {
    enabled_ciphers_.insert(EVP_CIPHER_get_nid(cipher));
    return;
  }
  for (const char* only : kProviderOnly)
    if (OPENSSL_strcasecmp(name.c_str(), only) == 0) return;  // the provider reads CRYPTINE_ALGS itself
  if (warn_unknown)
    std::fprintf(stderr, "cryptine: CRYPTINE_ALGS names '%s', which OpenSSL does not know; ignored\n", name.c_str());
}

bool Runtime::digest_enabled(const EVP_MD* md) const {
  return md != nullptr && enabled_digests_.count(EVP_MD_get_type(md)) != 0;
}

bool Runtime::cipher_enabled(const EVP_CIPHER* cipher) const {
  return cipher != nullptr && enabled_ciphers_.count(EVP_CIPHER_get_nid(cipher)) != 0;
}

// Guest log lines go to stderr only with CRYPTINE_LOG: a program's stderr is its own.
VirtineConfig Runtime::virtine_config() const {
  VirtineConfig vc;
  vc.timeout_ms = config_.timeout_ms;
  // The guest's OpenSSL sees the CPU capabilities the program's does: a run with
  // OPENSSL_ia32cap masking AES-NI (as the paper's study did) masks it on both sides.
  if (const char* cap = std::getenv("OPENSSL_ia32cap"); cap != nullptr && std::strlen(cap) < 128)
    vc.boot_env.push_back(std::string("OPENSSL_ia32cap=") + cap);
  if (!config_.log) vc.log_sink = [](std::string_view) {};
  return vc;
}

namespace {

// A start that failed for want of a resource (memory, fds, a busy KVM) may work later;
// a missing or refused /dev/kvm, an unreadable image or a guest that misbehaved will not.
bool worth_retrying(const Error& error) {
  if (error.code() != ErrorCode::kSystem) return false;
  switch (error.sys_errno()) {
    case ENOMEM:
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case EBUSY:
    case EINTR:
    case ENOSPC: return true;
    default: return false;
  }
}

constexpr uint64_t kFirstRetryMs = 1000, kLongestRetryMs = 60000;

}  // namespace

bool Runtime::confined_now() {
  if (!confined()) return false;
  if (!confinement_said_.exchange(true) && may_write_stderr()) {
    const char* then =
        config_.fallback == Fallback::kNative ? "interposed calls run natively" : "interposed calls fail";
    std::fprintf(stderr,
                 "cryptine: the process is under a seccomp filter; no virtine runs from now on (%s, "
                 "and contexts already in virtines fail)\n",
                 then);
  }
  return true;
}

std::shared_ptr<const Snapshot> Runtime::snapshot_here() {
  std::lock_guard lock(g_start_mu);
  if (!start_virtines()) return nullptr;
  if (snapshot_generation_ != fork_generation()) {
    // A forked child: the parent's mapping of the snapshot was not inherited.
    auto remapped = snapshot_->remap();
    if (!remapped.ok()) {
      (void)start_failed(std::move(remapped).error().context("mapping the snapshot in a forked child"));
      return nullptr;
    }
    snapshot_ = *remapped;
    snapshot_generation_ = fork_generation();
  }
  return snapshot_;
}

bool Runtime::start_virtines() {
  if (started_.load() > 0) return true;
  if (started_.load() < 0 && !retry_due()) return false;
  if (seccomp_inherited()) {
    mark_confined();  // before the first ioctl: the filter may kill on it
    return !confined_now();
  }
  auto started = boot_and_snapshot();
  if (started.ok()) {
    if (start_failures_ > 0)
      std::fprintf(stderr, "cryptine: virtines available again, after %u failed start%s\n", start_failures_,
                   start_failures_ == 1 ? "" : "s");
    started_.store(1);
    return true;
  }
  return start_failed(started.error());
}

// Says the first failure, and when the next start may be tried; always false.
bool Runtime::start_failed(const Error& error) {
  const bool retry = worth_retrying(error);
  if (start_failures_++ == 0) {  // said once; the retries are silent
    const char* then = config_.fallback == Fallback::kNative ? "running natively" : "interposed calls will fail";
    std::fprintf(stderr, "cryptine: virtines unavailable (%s); %s%s\n", error.message().c_str(), then,
                 retry ? ", retrying with backoff" : "");
  }
  if (retry) {
    const uint64_t backoff_ms = std::min(kLongestRetryMs, kFirstRetryMs << std::min(start_failures_ - 1, 6u));
    retry_at_ns_.store(monotonic_ns() + backoff_ms * 1000000ull);
  } else {
    retry_at_ns_.store(0);
  }
  started_.store(-1);
  return false;
}

bool Runtime::retry_due() const {
  const uint64_t at = retry_at_ns_.load(std::memory_order_relaxed);
  return at != 0 && monotonic_ns() >= at;
}

Status Runtime::boot_and_snapshot() {
  if (kvm_ == nullptr) {
    KvmSystem kvm = CRYPTINE_TRY(KvmSystem::open(config_.kvm_device.c_str()));
    kvm_ = std::make_unique<KvmSystem>(std::move(kvm));
  }
  const std::string path = config_.guest.empty() ? CRYPTINE_DEFAULT_GUEST : config_.guest;
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> image{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (image.empty()) return Error(ErrorCode::kInvalidImage, "cannot read the guest image " + path);

  // CRYPTINE_TIMEOUT_MS bounds each call; the one-time boot (OpenSSL's initialisation,
  // far longer than a call) has its own limit, so a guest that never makes SNAPSHOT
  // costs at most that.
  VirtineConfig boot_config = virtine_config();
  boot_config.timeout_ms = config_.boot_timeout_ms;
  auto boot = Virtine::boot(*kvm_, image, boot_config);
  if (!boot.ok()) return std::move(boot).error().context("booting the guest");
  auto call = boot->run();
  if (!call.ok()) return std::move(call).error().context("the guest did not reach its snapshot");
  if (call->kind != HypercallKind::kSnapshot)
    return Error(ErrorCode::kGuestFault, "the guest did not reach its snapshot");
  auto snap = boot->take_snapshot(*kvm_);
  if (!snap.ok()) return std::move(snap).error().context("snapshot");
  snapshot_ = *snap;
  snapshot_generation_ = fork_generation();
  const auto after_boot = vmm_counters().read();
  shim_counters().boot_run_ns.store(after_boot.run_ns);
  shim_counters().boot_kvm_exits.store(after_boot.kvm_exits);
  shim_counters().boot_kvm_interrupt_exits.store(after_boot.kvm_interrupt_exits);
  return {};
}

VirtinePool* Runtime::thread_pool() {
  // Checked before anything that could make a VM, an ioctl or a timer.
  if (t_pool_destroyed || confined_now()) return nullptr;
  const uint64_t generation = fork_generation();
  if (t_pool.pool != nullptr && t_pool.generation == generation) return t_pool.pool.get();
  t_pool.pool.reset();  // made before a fork: the parent's VMs (only their fds are closed)
  if (started_.load() < 0 && !retry_due()) return nullptr;
  std::shared_ptr<const Snapshot> snapshot = snapshot_here();
  if (snapshot == nullptr) return nullptr;
  t_pool.pool =
      std::make_unique<VirtinePool>(*kvm_, std::move(snapshot), virtine_config(), config_.pool, config_.pool_max);
  t_pool.generation = generation;
  ensure_stats_file_writer();  // a forked child's own, for CRYPTINE_STATS_FILE
  return t_pool.pool.get();
}

ShimCounters& shim_counters() {
  static ShimCounters* counters = new ShimCounters();  // never destroyed: read at exit
  return *counters;
}

namespace {
__attribute__((constructor)) void register_fork_handler() {
  if (pthread_atfork(nullptr, nullptr, Runtime::after_fork_in_child) != 0)
    std::fprintf(stderr, "cryptine: pthread_atfork failed; a child forked beside busy threads may hang\n");
}

// The CRYPTINE_STATS variables are read at load, alone (the rest of the configuration, and
// its warnings, wait for the first interposed call), so the counters are shown even without
// one, and a daemon's stats file is written from its start.
__attribute__((constructor)) void show_stats_as_asked() {
  std::vector<std::string> ignored;
  const Config c = parse_config(
      [](const char* name) { return std::strncmp(name, "CRYPTINE_STATS", 14) == 0 ? std::getenv(name) : nullptr; },
      &ignored);
  g_stats_output = c.stats;
  set_kvm_exit_counting(c.stats_kvm_exits);
  set_timing(c.stats != StatsOutput::kNone || !c.stats_file.empty());
  if (c.stats != StatsOutput::kNone) std::atexit(print_stats);
  start_stats_file(c.stats_file, c.stats_interval_s);
}
}  // namespace

std::vector<StatValue> read_stats() {
  const auto v = vmm_counters().read();
  const ShimCounters& c = shim_counters();
  auto family = [&](Family f) { return c.by_family[static_cast<int>(f)].total(); };
  auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::vector<StatValue> stats = {
      {"virtine_calls", c.virtine_calls.total(), "Interposed calls served by a virtine."},
      {"passed_through", r(c.passed_through), "Interposed calls given to OpenSSL: algorithm not enabled."},
      {"native_fallbacks", r(c.native_fallbacks), "Calls run natively because virtines were unavailable."},
      {"failed", r(c.failed), "Calls that failed in or because of a virtine."},
      {"refused", r(c.refused), "Served calls that the guest's OpenSSL said no to."},
      {"cipher", family(Family::kCipher), "Virtine calls on cipher contexts."},
      {"digest", family(Family::kDigest), "Virtine calls on digests."},
      {"mac", family(Family::kMac), "Virtine calls on MACs."},
      {"pkey", family(Family::kPkey), "Virtine calls with private keys."},
      {"kdf", family(Family::kKdf), "Virtine calls deriving keys (one per derivation)."},
      {"key_imports", r(c.key_imports), "Private keys sent to a virtine (of the pkey calls)."},
      {"vm_creations", v.creations, "VMs created (the boot, and starts from the snapshot)."},
      {"exits", v.exits, "VM exits seen by user space."},
      {"resets", v.resets, "Resets of a virtine to the snapshot."},
      {"pages_restored", v.pages_restored, "Pages copied back from the snapshot by resets."},
      {"virtine_failures", v.failures, "Virtines ended by a fault, ABORT or timeout."},
      {"timeouts", v.timeouts, "Virtines stopped by the watchdog."},
      {"call_ns", c.virtine_call_ns.total(), "Wall time of the calls served by virtines, in nanoseconds."},
      {"run_ns", v.run_ns - r(c.boot_run_ns), "Time inside KVM_RUN after the guest's boot, in nanoseconds."},
      {"reset_ns", v.reset_ns, "Time in resets, in nanoseconds."},
      {"payload_bytes", v.payload_bytes, "Request bytes copied in plus reply bytes copied out."},
  };
  if (kvm_exit_counting()) {
    stats.push_back({"kvm_exits", v.kvm_exits - r(c.boot_kvm_exits),
                     "VM exits after the guest's boot, KVM's own included (CRYPTINE_STATS_KVM_EXITS)."});
    stats.push_back({"kvm_interrupt_exits", v.kvm_interrupt_exits - r(c.boot_kvm_interrupt_exits),
                     "Of kvm_exits, those for the host's own interrupts (timer ticks while a guest runs)."});
  }
  return stats;
}

void print_stats() {
  if (!may_write_stderr()) return;  // a confined process whose stderr would kill it (SIGXFSZ)
  const std::vector<StatValue> stats = read_stats();
  const std::string text = g_stats_output == StatsOutput::kJson ? stats_json(stats) : stats_line(stats);
  std::fputs(text.c_str(), stderr);
}

}  // namespace cryptine
