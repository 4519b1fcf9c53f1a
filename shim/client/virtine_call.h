// How an interposed call runs: routing (virtine, OpenSSL's own function, or failure),
// running on a context's twin or in a call-scoped virtine, and the accounting of each.
#pragma once

#include <openssl/err.h>

#include <new>

#include "shim/client/runtime.h"
#include "shim/client/twin.h"
#include "vmm/function_ref.h"
#include "vmm/result.h"
#include "vmm/virtine.h"

namespace cryptine {

enum class Route {
  kVirtine,  // run it in a virtine
  kNative,   // run OpenSSL's own function: not enabled (counted as passed through), or no
             // virtines with CRYPTINE_FALLBACK=native (counted as a fallback)
  kFail,     // no virtines with CRYPTINE_FALLBACK=fail: the error is already raised
};
Route route(bool enabled);

// Counts a failed virtine call and puts `error` on OpenSSL's error queue.
void fail_call(const Error& error);

// Runs `fn` in the twin's virtine and counts the call in `family`; on an error, counts
// and raises it. Returns whether it succeeded.
bool run_on_twin(const Twin& twin, Family family, FunctionRef<Status(Virtine&)> fn);

// The same for a twin the caller can replace (a key's: key_data.h's refresh_private_part),
// with the lease checked once, by the call itself: when the lease cannot run (as
// Lease::usable() would say), `fn` does not run, nothing is counted or raised, and *stale
// is set, for the caller to replace the twin and call again.
bool run_on_twin(const Twin& twin, Family family, FunctionRef<Status(Virtine&)> fn, bool* stale);

// How a call that needs a new virtine ended.
enum class Served {
  kDone,    // served by a virtine
  kFailed,  // failed; counted, and the error is on OpenSSL's queue
  kNative,  // no virtine could be had (fds, memory) and CRYPTINE_FALLBACK=native: the
            // caller runs OpenSSL's own function (counted as a fallback, no error raised)
};

// Runs `fn` in a virtine from the thread's pool that is reset right after (call-scoped).
Served run_call_scoped(Family family, FunctionRef<Status(Virtine&)> fn);

// Runs `fn`, a one-shot call that leaves nothing in the guest, where a context made now
// would live: under scope=context in a call-scoped virtine (as run_call_scoped: reset
// right after, so no input outlives the call); under scope=thread on the thread's virtine
// (thread_lease(): no reset, as for the thread's contexts, which can reach each other).
Served run_one_shot(Family family, FunctionRef<Status(Virtine&)> fn);

// A new twin for a context: a lease by CRYPTINE_SCOPE and the guest context that `make`
// creates in it, stored in *twin when kDone. Otherwise nothing is kept.
Served make_twin(Family family, FunctionRef<Result<guest::Handle>(Virtine&)> make, Twin* twin);

// A copy of the twin `from`: a copy of its guest context, beside it in the same virtine,
// stored in *copy. Returns whether it succeeded (the error raised if not).
bool copy_twin(const Twin& from, Family family, Twin* copy);

// Runs an extern "C" body with no C++ exception escaping into the program; the failure
// it returns instead has an OpenSSL error queued, as OpenSSL's own would.
template <typename R, typename Fn>
R no_throw(R on_exception, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
  } catch (...) {
    ERR_raise(ERR_LIB_PROV, ERR_R_INTERNAL_ERROR);
  }
  return on_exception;
}

}  // namespace cryptine
