#include "shim/provider/provider_twin.h"

namespace cryptine::provider {

std::optional<Twin> new_twin(Family family, const std::function<Result<guest::Handle>(Virtine&)>& make) {
  Twin made;
  switch (make_twin(family, make, &made)) {
    case Served::kDone: return made;
    case Served::kFailed: return std::nullopt;
    case Served::kNative: break;
  }
  fail_call(Error(ErrorCode::kUnsupported, "no virtine available for the cryptine provider"));
  return std::nullopt;
}

}  // namespace cryptine::provider
