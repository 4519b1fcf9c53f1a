// CRYPTINE_STATS_FILE: the counters in Prometheus' text format, in a file that a daemon's
// operators (node_exporter's textfile collector, or cat) read while it runs.
//
// Written atomically (a temporary file in the same directory, then rename()) every
// CRYPTINE_STATS_INTERVAL seconds by a thread of its own, which reads only atomics and so
// never holds up a call, and once more at exit. "%p" in the path is the pid, so each
// process of a forking daemon writes its own file; a forked child starts its own writer
// at its first interposed call. Nothing is written once the process is under a seccomp
// filter (the filter may kill on open or rename), nor if it started under one.
#pragma once

#include <cstdint>
#include <string>

namespace cryptine {

// At load: registers the write at exit and starts the writer (interval 0: exit only).
void start_stats_file(std::string path_template, uint32_t interval_s);

// In a forked child (called once per thread pool made): starts its writer, if it has none.
void ensure_stats_file_writer();

// Before a seccomp filter is installed: waits for a write in progress to finish, so the
// filter never meets the writer half-way (the writer checks confined() before each write).
void quiesce_stats_file();

}  // namespace cryptine
