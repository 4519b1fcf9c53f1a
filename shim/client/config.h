// The shim's configuration: environment variables read once, each bad value reported
// with the default it falls back to, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace cryptine {

enum class Scope { kContext, kThread };
enum class Fallback { kNative, kFail };
enum class StatsOutput { kNone, kLine, kJson };

struct Config {
  std::vector<std::string> algs;           // CRYPTINE_ALGS, lower-cased; empty means every supported one
  Scope scope = Scope::kContext;           // CRYPTINE_SCOPE: context | thread
  uint32_t pool = 1;                       // CRYPTINE_POOL: ready virtines a thread keeps at least, 0..64
  uint32_t pool_max = 64;                  // CRYPTINE_POOL_MAX: at most (the pool follows demand), pool..1024
  std::string guest;                       // CRYPTINE_GUEST: the guest image; empty: the installed one
  uint32_t timeout_ms = 10000;             // CRYPTINE_TIMEOUT_MS: 1..3600000
  uint32_t boot_timeout_ms = 60000;        // CRYPTINE_BOOT_TIMEOUT_MS: the boot to the snapshot, 1..3600000
  Fallback fallback = Fallback::kNative;   // CRYPTINE_FALLBACK: native | fail (without KVM)
  StatsOutput stats = StatsOutput::kNone;  // CRYPTINE_STATS: 1 (a line) | json, on stderr at exit
  std::string stats_file;                  // CRYPTINE_STATS_FILE: Prometheus text, %p = pid; empty: none
  uint32_t stats_interval_s = 10;          // CRYPTINE_STATS_INTERVAL: seconds between writes, 0: exit only
  bool stats_kvm_exits = false;            // CRYPTINE_STATS_KVM_EXITS: count KVM's own exits too (4 preads a run)
  bool log = false;                        // CRYPTINE_LOG: the guest's LOG lines and shim notes on stderr
  bool key_export = false;                 // CRYPTINE_KEY_EXPORT: private keys may be exported
  std::string kvm_device = "/dev/kvm";     // CRYPTINE_KVM_DEVICE: for tests of the fallback
};

const char* scope_name(Scope scope);

// Reads the variables through `getenv` (injected so tests need no environment);
// every value that is not understood adds one line to `warnings` saying which value
// was ignored and which default is used instead.
Config parse_config(const std::function<const char*(const char*)>& getenv, std::vector<std::string>* warnings);

}  // namespace cryptine
