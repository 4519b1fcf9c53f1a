#include "shim/client/stats_file.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "shim/client/confinement.h"
#include "shim/client/fork_safety.h"
#include "shim/client/runtime.h"
#include "shim/client/stats_output.h"
#include "vmm/process_fork.h"

namespace cryptine {
namespace {

struct StatsFile {
  std::string path_template;
  uint32_t interval_s;
  ForkSafeMutex write_mu;  // one write at a time; never inherited held by a child
};
// Made once, at load, before any thread of ours exists; never freed (the writer and the
// exit handler may run after statics are gone). A pointer, so no C++ initializer of this
// file can run after the library's constructor has set it.
StatsFile* g_file = nullptr;
std::atomic<uint64_t> g_writer_generation{~uint64_t{0}};  // the process whose writer runs

void write_now() {
  std::lock_guard lock(g_file->write_mu);
  if (confined()) return;
  const std::string path = expand_stats_path(g_file->path_template, static_cast<long>(getpid()));
  Status written = write_file_atomically(path, stats_prometheus(read_stats(), static_cast<long>(getpid())));
  // Said once per process (a daemon would say it every interval otherwise); later writes
  // are still tried, so a directory made afterwards is used.
  static std::atomic<bool> said{false};
  if (!written.ok() && !said.exchange(true) && may_write_stderr())
    std::fprintf(stderr, "cryptine: CRYPTINE_STATS_FILE not written: %s\n", written.error().message().c_str());
}

// Runs until the process ends (a forked child has no copy of it: see ensure_stats_file_writer).
void* writer_main(void*) {
  for (;;) {
    timespec left{static_cast<time_t>(g_file->interval_s), 0};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    write_now();
  }
}

// The writer takes no signal meant for the program (nginx's master waits for its own).
void start_writer() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  if (pthread_create(&thread, &attr, writer_main, nullptr) != 0)
    std::fprintf(stderr, "cryptine: no thread for CRYPTINE_STATS_FILE; it is written at exit only\n");
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

void start_stats_file(std::string path_template, uint32_t interval_s) {
  if (path_template.empty() || g_file != nullptr || seccomp_inherited()) return;
  g_file = new StatsFile{std::move(path_template), interval_s, {}};
  std::atexit(write_now);
  ensure_stats_file_writer();
}

void ensure_stats_file_writer() {
  if (g_file == nullptr || g_file->interval_s == 0) return;
  uint64_t running = g_writer_generation.load(std::memory_order_acquire);
  const uint64_t now = fork_generation();
  if (running == now || confined()) return;
  if (g_writer_generation.compare_exchange_strong(running, now, std::memory_order_acq_rel)) start_writer();
}

void quiesce_stats_file() {
  if (g_file == nullptr) return;
  std::lock_guard lock(g_file->write_mu);  // a write in progress ends; later ones see confined()
}

}  // namespace cryptine
