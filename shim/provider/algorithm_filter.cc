// Matched by name against the algorithm's own names, not through EVP lookups: this runs
// inside OpenSSL's fetch, which such a lookup could enter again.
#include "shim/provider/algorithm_filter.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "shim/client/config.h"

namespace cryptine::provider {

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

std::vector<OSSL_ALGORITHM> offered(std::span<const OSSL_ALGORITHM> all, const std::vector<std::string>& wanted) {
  std::vector<OSSL_ALGORITHM> list;
  for (const OSSL_ALGORITHM& a : all)
    if (wanted.empty() || named_by(a.algorithm_names, wanted)) list.push_back(a);
  list.push_back({nullptr, nullptr, nullptr, nullptr});
  return list;
}

std::vector<std::string> configured_algorithms() {
  // Only CRYPTINE_ALGS is read: the provider needs no other setting (and the runtime,
  // when it starts, reports bad values of all of them once).
  std::vector<std::string> ignored;
  const Config config = parse_config(
      [](const char* name) { return std::strcmp(name, "CRYPTINE_ALGS") == 0 ? std::getenv(name) : nullptr; }, &ignored);
  return config.algs;
}

std::vector<OSSL_ALGORITHM> offered(std::span<const OSSL_ALGORITHM> all) {
  return offered(all, configured_algorithms());
}

std::vector<OSSL_ALGORITHM> offered_keys(std::span<const OSSL_ALGORITHM> all) {
  std::vector<std::string> wanted = configured_algorithms();
  if (named_by("ec:ecdsa:ecdh", wanted)) wanted.insert(wanted.end(), {"ec", "ecdsa", "ecdh"});
  return offered(all, wanted);
}

}  // namespace cryptine::provider
