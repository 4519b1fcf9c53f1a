#include "vmm/process_fork.h"

#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace cryptine {
namespace {

std::atomic<uint64_t> g_generation{0};

void after_fork_in_child() { g_generation.fetch_add(1, std::memory_order_relaxed); }

// Registered at load, before any thread of the monitor exists, and with nothing to lock:
// the child handler only bumps a counter, so it cannot hang whatever the parent's
// threads were doing.
__attribute__((constructor)) void register_fork_handler() {
  if (pthread_atfork(nullptr, nullptr, after_fork_in_child) != 0)
    std::fprintf(stderr, "cryptine: pthread_atfork failed; a forked child must not free its parent's virtines\n");
}

}  // namespace

uint64_t fork_generation() { return g_generation.load(std::memory_order_relaxed); }

Status keep_from_children(void* addr, size_t size, const char* what) {
  if (::madvise(addr, size, MADV_DONTFORK) != 0)
    return Error::from_errno(std::string("madvise MADV_DONTFORK ") + what);
  if (::madvise(addr, size, MADV_DONTDUMP) != 0)
    return Error::from_errno(std::string("madvise MADV_DONTDUMP ") + what);
  return {};
}

}  // namespace cryptine
