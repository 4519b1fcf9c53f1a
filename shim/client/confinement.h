// Confinement: whether the process has put itself under a seccomp filter (or strict mode).
//
// Once it has, the shim makes no system call the filter might forbid: no KVM ioctl, no
// timer, no new VM. Interposed calls then fall back as CRYPTINE_FALLBACK says, and
// contexts whose state lives in a virtine fail cleanly (freeing them only closes fds and
// unmaps memory, which OpenSSH's filter allows). The flag is process-wide although a
// filter set with prctl() binds only the calling thread and its later children: one rule
// for all threads is simpler and errs on the side of not calling.
#pragma once

#include <optional>
#include <string_view>

namespace cryptine {

// True once the process confined itself, or while a thread is installing a filter.
bool confined();

// Brackets a call that may install a filter: confined() is true from begin() on, so no
// other thread starts a virtine call meanwhile; end(true) makes it permanent, end(false)
// (the kernel refused: nothing was installed) drops this attempt.
void begin_confining();
void end_confining(bool installed);

// Whether the shim may write its notes and counters to stderr: not when, at confinement,
// stderr was a regular file under a file-size limit (OpenSSH's sandbox sets RLIMIT_FSIZE
// to 0 before its filter: a write would raise SIGXFSZ and kill the process).
bool may_write_stderr();

// Whether the process started under a filter (or strict mode), from its status file, not
// with prctl(PR_GET_SECCOMP), itself a call a filter may kill on; false without /proc.
bool seccomp_inherited();

// Marks the process confined for good (a filter inherited from the start).
void mark_confined();

// The mode in the "Seccomp:" line of /proc/<pid>/status text (0 none, 1 strict, 2 filter),
// or nullopt when there is no such line or it does not parse.
std::optional<int> seccomp_mode_from_status(std::string_view status);

}  // namespace cryptine
