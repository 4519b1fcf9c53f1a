#include "shim/client/virtine_call.h"

#include "shim/client/confinement.h"
#include "shim/client/openssl_errors.h"
#include "vmm/counters.h"
#include "vmm/watchdog.h"

namespace cryptine {
namespace {

void count_call(Family family, uint64_t t0) {
  ShimCounters& c = Runtime::get().counters();
  count(c.virtine_calls);
  count(c.by_family[static_cast<int>(family)]);
  count_time(c.virtine_call_ns, t0);
}

}  // namespace

Route route(bool enabled) {
  Runtime& rt = Runtime::get();
  if (!enabled) {
    rt.counters().passed_through.fetch_add(1, std::memory_order_relaxed);
    return Route::kNative;
  }
  if (rt.thread_pool() != nullptr) return Route::kVirtine;
  if (rt.config().fallback == Fallback::kNative) {
    rt.counters().native_fallbacks.fetch_add(1, std::memory_order_relaxed);
    return Route::kNative;
  }
  fail_call(Error(ErrorCode::kUnsupported, confined()
                                               ? "the process is under a seccomp filter and CRYPTINE_FALLBACK=fail"
                                               : "virtines unavailable and CRYPTINE_FALLBACK=fail"));
  return Route::kFail;
}

void fail_call(const Error& error) {
  Runtime::get().counters().failed.fetch_add(1, std::memory_order_relaxed);
  raise_openssl_error(error);
}

namespace {
// The end of a call that reached a virtine: when the guest's OpenSSL said no (a bad
// tag, a wrong key size) the virtine did its job, so the call counts as served, and as
// refused, and OpenSSL's own error is raised; any other error is a failed call.
bool finish(Family family, uint64_t t0, const Status& s) {
  if (s.ok() || s.error().code() == ErrorCode::kGuestRefused) count_call(family, t0);
  if (s.ok()) return true;
  if (s.error().code() == ErrorCode::kGuestRefused) {
    Runtime::get().counters().refused.fetch_add(1, std::memory_order_relaxed);
    raise_openssl_error(s.error());
  } else {
    fail_call(s.error());
  }
  return false;
}
}  // namespace

bool run_on_twin(const Twin& twin, Family family, FunctionRef<Status(Virtine&)> fn) {
  const uint64_t t0 = time_start();
  return finish(family, t0, twin.lease->with_virtine(fn));
}

bool run_on_twin(const Twin& twin, Family family, FunctionRef<Status(Virtine&)> fn, bool* stale) {
  const uint64_t t0 = time_start();
  Status s = twin.lease->with_virtine(fn, stale);
  if (*stale) return false;
  return finish(family, t0, s);
}

namespace {
// No virtine could be had for a call (out of fds or memory, KVM_CREATE_VM refused, the
// thread exiting): nothing ran yet, so CRYPTINE_FALLBACK decides.
Served unavailable(const Error& error) {
  Runtime& rt = Runtime::get();
  if (rt.config().fallback == Fallback::kNative) {
    rt.counters().native_fallbacks.fetch_add(1, std::memory_order_relaxed);
    return Served::kNative;
  }
  fail_call(error);
  return Served::kFailed;
}
}  // namespace

Served run_call_scoped(Family family, FunctionRef<Status(Virtine&)> fn) {
  const uint64_t t0 = time_start();
  VirtinePool* pool = Runtime::get().thread_pool();
  if (pool == nullptr) return unavailable(Error(ErrorCode::kUnsupported, "virtines are unavailable"));
  auto virtine = pool->acquire();
  if (!virtine.ok()) return unavailable(virtine.error());
  Status s = fn(*virtine);
  pool->release(std::move(virtine).value());  // reset to the snapshot (or discarded if poisoned)
  return finish(family, t0, s) ? Served::kDone : Served::kFailed;
}

Served run_one_shot(Family family, FunctionRef<Status(Virtine&)> fn) {
  if (Runtime::get().config().scope != Scope::kThread) return run_call_scoped(family, fn);
  const uint64_t t0 = time_start();
  auto lease = thread_lease();
  if (!lease.ok()) return unavailable(lease.error());
  return finish(family, t0, (*lease)->with_virtine(fn)) ? Served::kDone : Served::kFailed;
}

Served make_twin(Family family, FunctionRef<Result<guest::Handle>(Virtine&)> make, Twin* twin) {
  const uint64_t t0 = time_start();
  auto lease = lease_for_new_context();
  if (!lease.ok()) return unavailable(lease.error());
  guest::Handle handle = 0;
  Status s = (*lease)->with_virtine([&](Virtine& v) -> Status {
    handle = CRYPTINE_TRY(make(v));
    return {};
  });
  if (!finish(family, t0, s)) {
    drop_context(*lease, 0);
    return Served::kFailed;
  }
  *twin = Twin{*lease, handle};
  return Served::kDone;
}

bool copy_twin(const Twin& from, Family family, Twin* copy) {
  guest::Handle handle = 0;
  if (!run_on_twin(from, family, [&](Virtine& v) -> Status {
        handle = CRYPTINE_TRY(guest::copy_context(v, from.handle));
        return {};
      }))
    return false;
  from.lease->add_context();
  *copy = Twin{from.lease, handle};
  return true;
}

}  // namespace cryptine
