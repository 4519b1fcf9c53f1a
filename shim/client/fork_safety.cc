#include "shim/client/fork_safety.h"

#include <pthread.h>

#include <cstdio>
#include <mutex>
#include <new>
#include <vector>

namespace cryptine {

struct ForkHandlers {
  // The registry's own lock is taken first in prepare, so no lock is registered (and
  // missed) while a fork is under way.
  static std::mutex& registry_mu() {
    static std::mutex* mu = new std::mutex();  // never destroyed: threads may outlive statics
    return *mu;
  }
  static std::vector<ForkSafeMutex*>& registry() {
    static auto* locks = new std::vector<ForkSafeMutex*>();
    return *locks;
  }

  // Always in registration order, so two forking threads cannot deadlock each other.
  static void prepare() {
    registry_mu().lock();
    for (ForkSafeMutex* m : registry()) m->mu_.lock();
  }
  static void parent() {
    for (ForkSafeMutex* m : registry()) m->mu_.unlock();
    registry_mu().unlock();
  }
  static void child() {
    for (ForkSafeMutex* m : registry()) new (&m->mu_) std::shared_mutex();
    new (&registry_mu()) std::mutex();
  }
};

namespace {
// At load, before the program (or the shim) has threads.
__attribute__((constructor)) void register_fork_handlers() {
  (void)ForkHandlers::registry_mu();
  (void)ForkHandlers::registry();
  if (pthread_atfork(ForkHandlers::prepare, ForkHandlers::parent, ForkHandlers::child) != 0)
    std::fprintf(stderr, "cryptine: pthread_atfork failed; a child forked beside busy threads may hang\n");
}
}  // namespace

ForkSafeMutex::ForkSafeMutex() {
  std::lock_guard lock(ForkHandlers::registry_mu());
  ForkHandlers::registry().push_back(this);
}

}  // namespace cryptine
