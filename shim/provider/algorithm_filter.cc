#include "shim/provider/algorithm_filter.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "shim/config.h"

namespace cryptine::provider {
namespace {

// Whether one of `wanted` (lower-case) is one of the colon-separated `names`, in any case.
bool named_by(std::string_view names, const std::vector<std::string>& wanted) {
  while (!names.empty()) {
    const size_t colon = std::min(names.find(':'), names.size());
    const std::string_view name = names.substr(0, colon);
    for (const std::string& w : wanted)
      if (w.size() == name.size() && OPENSSL_strncasecmp(w.c_str(), name.data(), name.size()) == 0) return true;
    names.remove_prefix(std::min(colon + 1, names.size()));
  }
  return false;
}

}  // namespace

const OSSL_ALGORITHM* offered_algorithms(const OSSL_ALGORITHM* all, size_t n) {
  std::vector<std::string> ignored;  // the runtime reports bad values
  const Config config = parse_config(
      [](const char* name) { return std::strcmp(name, "CRYPTINE_ALGS") == 0 ? std::getenv(name) : nullptr; }, &ignored);
  auto* list = new std::vector<OSSL_ALGORITHM>();
  for (size_t i = 0; i < n; ++i)
    if (config.algs.empty() || named_by(all[i].algorithm_names, config.algs)) list->push_back(all[i]);
  list->push_back({nullptr, nullptr, nullptr, nullptr});
  return list->data();
}

}  // namespace cryptine::provider
