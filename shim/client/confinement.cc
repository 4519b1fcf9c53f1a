#include "shim/client/confinement.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace cryptine {
namespace {

std::atomic<bool> g_confined{false};
std::atomic<int> g_confining{0};  // threads inside a filter-installing call
std::atomic<bool> g_stderr_limited{false};

// Asked before the filter is in place (fstat and getrlimit may be what it forbids).
void note_stderr_limits() {
  struct stat st {};
  struct rlimit rl {};
  if (fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    g_stderr_limited.store(true, std::memory_order_release);
}

}  // namespace

bool confined() {
  return g_confined.load(std::memory_order_acquire) || g_confining.load(std::memory_order_acquire) > 0;
}

void begin_confining() {
  note_stderr_limits();
  g_confining.fetch_add(1, std::memory_order_acq_rel);
}

// A filter inherited across execve() (a sandboxing parent, systemd's SystemCallFilter=)
// is read from the kernel's own report of the calling thread, not asked with
// prctl(PR_GET_SECCOMP): that call is itself a system call a filter may kill on (and
// strict mode always does), while the open/read/close this costs are what opening
// /dev/kvm and the guest image take anyway. Without /proc (a chroot) nothing is known,
// and the process is taken to be unconfined.
bool seccomp_inherited() {
  for (const char* path : {"/proc/thread-self/status", "/proc/self/status"}) {
    std::ifstream in(path);
    if (!in) continue;
    const std::string status{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const std::optional<int> mode = seccomp_mode_from_status(status);
    return mode.has_value() && *mode != 0;
  }
  return false;
}

bool may_write_stderr() {
  return !confined() || !g_stderr_limited.load(std::memory_order_acquire);
}

void end_confining(bool installed) {
  // Set before the attempt is dropped, so confined() never reads false in between.
  if (installed) g_confined.store(true, std::memory_order_release);
  g_confining.fetch_sub(1, std::memory_order_acq_rel);
}

void mark_confined() {
  note_stderr_limits();
  g_confined.store(true, std::memory_order_release);
}

std::optional<int> seccomp_mode_from_status(std::string_view status) {
  constexpr std::string_view kField = "Seccomp:";
  size_t at = 0;
  while (at < status.size()) {
    const size_t eol = std::min(status.find('\n', at), status.size());
    std::string_view line = status.substr(at, eol - at);
    at = eol + 1;
    if (!line.starts_with(kField)) continue;  // "Seccomp_filters:" has no colon there
    line.remove_prefix(kField.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    int mode = -1;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), mode);
    if (ec != std::errc() || end != line.data() + line.size() || mode < 0 || mode > 2) return std::nullopt;
    return mode;
  }
  return std::nullopt;
}

}  // namespace cryptine
