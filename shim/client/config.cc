#include "shim/client/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace cryptine {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Strict decimal: digits only, in [lo, hi].
bool parse_uint(const char* text, uint64_t lo, uint64_t hi, uint64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  for (const char* p = text; *p; ++p)
    if (!std::isdigit(static_cast<unsigned char>(*p))) return false;
  errno = 0;
  unsigned long long v = std::strtoull(text, nullptr, 10);
  if (errno != 0 || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_bool(const std::string& v, bool* out) {
  if (v == "1" || v == "yes" || v == "true" || v == "on") return *out = true, true;
  if (v == "0" || v == "no" || v == "false" || v == "off" || v.empty()) return *out = false, true;
  return false;
}

}  // namespace

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::kContext: return "context";
    case Scope::kThread: return "thread";
  }
  return "?";
}

Config parse_config(const std::function<const char*(const char*)>& getenv, std::vector<std::string>* warnings) {
  Config c;
  auto warn = [&](const char* var, const char* value, const std::string& fallback) {
    warnings->push_back(std::string(var) + "='" + value + "' is not understood; using " + fallback);
  };

  if (const char* v = getenv("CRYPTINE_ALGS"); v != nullptr && *v != '\0') {
    std::string list = lower(v);
    if (list != "all") {
      size_t start = 0;
      while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string name = list.substr(start, end - start);
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        if (!name.empty()) c.algs.push_back(name);
        start = end + 1;
      }
      if (c.algs.empty()) warn("CRYPTINE_ALGS", v, "all supported algorithms");
    }
  }
  if (const char* v = getenv("CRYPTINE_SCOPE"); v != nullptr) {
    const std::string s = lower(v);
    // "call" was once a scope; one-shot calls are call-scoped whatever the scope says.
    if (s == "call")
      warnings->push_back("CRYPTINE_SCOPE=call is not a scope (one-shot calls are always call-scoped); using context");
    else if (s == "context")
      c.scope = Scope::kContext;
    else if (s == "thread")
      c.scope = Scope::kThread;
    else
      warn("CRYPTINE_SCOPE", v, "context");
  }
  uint64_t n = 0;
  if (const char* v = getenv("CRYPTINE_POOL"); v != nullptr) {
    if (parse_uint(v, 0, 64, &n))
      c.pool = static_cast<uint32_t>(n);
    else
      warn("CRYPTINE_POOL", v, "1 (a number from 0 to 64)");
  }
  if (const char* v = getenv("CRYPTINE_POOL_MAX"); v != nullptr) {
    if (parse_uint(v, 0, 1024, &n) && n >= c.pool)
      c.pool_max = static_cast<uint32_t>(n);
    else
      warn("CRYPTINE_POOL_MAX", v, std::to_string(c.pool_max) + " (a number from CRYPTINE_POOL to 1024)");
  }
  if (const char* v = getenv("CRYPTINE_GUEST"); v != nullptr) c.guest = v;
  if (const char* v = getenv("CRYPTINE_KVM_DEVICE"); v != nullptr && *v != '\0') c.kvm_device = v;
  if (const char* v = getenv("CRYPTINE_TIMEOUT_MS"); v != nullptr) {
    if (parse_uint(v, 1, 3600000, &n))
      c.timeout_ms = static_cast<uint32_t>(n);
    else
      warn("CRYPTINE_TIMEOUT_MS", v, "10000 (milliseconds, 1 to 3600000)");
  }
  if (const char* v = getenv("CRYPTINE_BOOT_TIMEOUT_MS"); v != nullptr) {
    if (parse_uint(v, 1, 3600000, &n))
      c.boot_timeout_ms = static_cast<uint32_t>(n);
    else
      warn("CRYPTINE_BOOT_TIMEOUT_MS", v, "60000 (milliseconds, 1 to 3600000)");
  }
  if (const char* v = getenv("CRYPTINE_FALLBACK"); v != nullptr) {
    const std::string s = lower(v);
    if (s == "native")
      c.fallback = Fallback::kNative;
    else if (s == "fail")
      c.fallback = Fallback::kFail;
    else
      warn("CRYPTINE_FALLBACK", v, "native");
  }
  if (const char* v = getenv("CRYPTINE_STATS"); v != nullptr) {
    bool on = false;
    if (lower(v) == "json")
      c.stats = StatsOutput::kJson;
    else if (parse_bool(lower(v), &on))
      c.stats = on ? StatsOutput::kLine : StatsOutput::kNone;
    else
      warn("CRYPTINE_STATS", v, "0");
  }
  if (const char* v = getenv("CRYPTINE_STATS_FILE"); v != nullptr) c.stats_file = v;
  if (const char* v = getenv("CRYPTINE_STATS_INTERVAL"); v != nullptr) {
    if (parse_uint(v, 0, 86400, &n))
      c.stats_interval_s = static_cast<uint32_t>(n);
    else
      warn("CRYPTINE_STATS_INTERVAL", v, "10 (seconds, 0 to 86400)");
  }
  if (const char* v = getenv("CRYPTINE_STATS_KVM_EXITS"); v != nullptr && !parse_bool(lower(v), &c.stats_kvm_exits))
    warn("CRYPTINE_STATS_KVM_EXITS", v, "0");
  if (const char* v = getenv("CRYPTINE_LOG"); v != nullptr && !parse_bool(lower(v), &c.log))
    warn("CRYPTINE_LOG", v, "0");
  if (const char* v = getenv("CRYPTINE_KEY_EXPORT"); v != nullptr && !parse_bool(lower(v), &c.key_export))
    warn("CRYPTINE_KEY_EXPORT", v, "0");
  return c;
}

}  // namespace cryptine
