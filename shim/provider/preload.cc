#include "shim/provider/preload.h"

#include <dlfcn.h>
#include <link.h>
#include <openssl/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstdio>

#include "shim/client/confinement.h"

namespace cryptine::provider {
namespace {

std::atomic<bool> g_installed{false};

// Whether this library comes before libcrypto in the link map: preloaded (or linked by
// the program), rather than dlopen()ed by OpenSSL as a provider module.
bool loaded_before_libcrypto() {
  Dl_info info{};
  link_map* self = nullptr;
  link_map* libcrypto = nullptr;
  if (dladdr1(reinterpret_cast<void*>(&installed_by_preload), &info, reinterpret_cast<void**>(&self),
              RTLD_DL_LINKMAP) == 0 ||
      dladdr1(reinterpret_cast<void*>(&OPENSSL_init_crypto), &info, reinterpret_cast<void**>(&libcrypto),
              RTLD_DL_LINKMAP) == 0 ||
      self == nullptr || libcrypto == nullptr)
    return false;
  for (link_map* lm = self; lm != nullptr; lm = lm->l_next)
    if (lm == libcrypto) return true;
  return false;
}

void say(const char* what) {
  if (may_write_stderr()) std::fprintf(stderr, "cryptine: %s; the program's crypto stays OpenSSL's\n", what);
}

// Runs before main (and before the program's first OpenSSL call). Loading a provider makes
// OpenSSL read its configuration now rather than at the program's first call.
__attribute__((constructor)) void install_when_preloaded() {
  if (!loaded_before_libcrypto()) return;  // a module: the program loads it as it likes
  // A random generator never goes to a virtine: CTR-DRBG and its AES come from default
  // (asked before any DRBG exists; a config's [random] section may still say otherwise).
  if (RAND_set_DRBG_type(nullptr, nullptr, "provider=default", nullptr, nullptr) != 1)
    return say("the DRBGs could not be kept on the default provider");
  if (OSSL_PROVIDER_add_builtin(nullptr, "cryptine", &OSSL_provider_init) != 1)
    return say("the provider could not be registered");
  g_installed.store(true, std::memory_order_release);
  // Keeping the fallbacks: `default` still loads as it would without this provider.
  if (OSSL_PROVIDER_try_load(nullptr, "cryptine", 1) == nullptr) {
    g_installed.store(false, std::memory_order_release);
    return say("the provider could not be loaded");
  }
  // Preferred, not required: what the provider does not offer (CRYPTINE_ALGS) is default's.
  // This replaces default properties a config set; a program that sets its own replaces it.
  if (EVP_set_default_properties(nullptr, "?provider=cryptine") != 1)
    say("the provider could not be made the preferred one");
}

}  // namespace

bool installed_by_preload() {
  return g_installed.load(std::memory_order_acquire);
}

}  // namespace cryptine::provider
