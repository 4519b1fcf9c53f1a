#include "shim/provider/twin_context.h"

namespace cryptine::provider {

bool make_provider_twin(Family family, const std::function<Result<guest::Handle>(Virtine&)>& make,
                        std::optional<Twin>* twin) {
  Twin made;
  switch (make_twin(family, make, &made)) {
    case Served::kDone: *twin = std::move(made); return true;
    case Served::kFailed: return false;
    case Served::kNative: break;
  }
  // No virtine could be had (the interposers would run OpenSSL's own code here).
  fail_call(Error(ErrorCode::kUnsupported, "no virtine available for the cryptine provider"));
  return false;
}

}  // namespace cryptine::provider
