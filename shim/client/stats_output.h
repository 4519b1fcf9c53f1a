// The shim's counters as one list of named values (runtime.h's read_stats()), the ways
// they are shown: the stderr line (CRYPTINE_STATS=1), one JSON object (CRYPTINE_STATS=json)
// and the Prometheus text exposition format (CRYPTINE_STATS_FILE, for node_exporter's
// textfile collector), one list so the three never disagree; and how the file is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/result.h"

namespace cryptine {

struct StatValue {
  std::string_view name;  // as in the stderr line: virtine_calls, vm_creations, ...
  uint64_t value;
  std::string_view help;  // one line, for Prometheus' HELP
};

// "cryptine stats: name=value ...", newline-terminated.
std::string stats_line(const std::vector<StatValue>& stats);
// {"name":value,...}, newline-terminated.
std::string stats_json(const std::vector<StatValue>& stats);
// cryptine_<name>_total{pid="PID"} VALUE, each with HELP and TYPE counter lines.
std::string stats_prometheus(const std::vector<StatValue>& stats, long pid);

// The path for this pid: each "%p" replaced by it, "%%" by "%".
std::string expand_stats_path(std::string_view path_template, long pid);

// Writes `text` to `path` atomically: a temporary file beside it, then rename().
Status write_file_atomically(const std::string& path, std::string_view text);

}  // namespace cryptine
