#include "shim/confinement.h"

#include <algorithm>
#include <atomic>
#include <charconv>

namespace cryptine {
namespace {

std::atomic<bool> g_confined{false};
std::atomic<int> g_confining{0};  // threads inside a filter-installing call

}  // namespace

bool confined() {
  return g_confined.load(std::memory_order_acquire) || g_confining.load(std::memory_order_acquire) > 0;
}

void begin_confining() { g_confining.fetch_add(1, std::memory_order_acq_rel); }

void end_confining(bool installed) {
  // Set before the attempt is dropped, so confined() never reads false in between.
  if (installed) g_confined.store(true, std::memory_order_release);
  g_confining.fetch_sub(1, std::memory_order_acq_rel);
}

void mark_confined() { g_confined.store(true, std::memory_order_release); }

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
