// Names for error codes, used in messages and test output.
#include "vmm/result.h"

namespace cryptine {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kSystem: return "system";
    case ErrorCode::kInvalidArgument: return "invalid-argument";
    case ErrorCode::kInvalidImage: return "invalid-image";
    case ErrorCode::kOutOfRange: return "out-of-range";
    case ErrorCode::kGuestFault: return "guest-fault";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kGuestRefused: return "guest-refused";
  }
  return "unknown";
}

}  // namespace cryptine
