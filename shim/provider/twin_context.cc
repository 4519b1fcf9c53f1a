#include "shim/provider/twin_context.h"

#include "shim/provider/native_delegate.h"

namespace cryptine::provider {

bool make_provider_twin(Family family, FunctionRef<Result<guest::Handle>(Virtine&)> make, std::optional<Twin>* twin) {
  Twin made;
  switch (make_twin(family, make, &made)) {
    case Served::kDone: *twin = std::move(made); return true;
    case Served::kFailed: return false;
    case Served::kNative: break;
  }
  // No virtine could be had: preloaded, the context goes to the default provider (a
  // fallback, counted); loaded by the program, the call fails.
  no_virtine_now();
  return false;
}

}  // namespace cryptine::provider
