// The OpenSSL 3 provider "cryptine": its entry point, its parameters and its operation
// table. The algorithms themselves are in the files beside this one (digests.cc,
// ciphers.cc, macs.cc, kdfs.cc, keymgmt.cc, key_decoder.cc, signatures.cc, keyexch.cc,
// asym_ciphers.cc).
//
// A program loads it (-provider cryptine, OSSL_PROVIDER_load, openssl.cnf), or the library,
// preloaded, installs it as a built-in (preload.cc).
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>

#include <new>

#include "shim/client/virtine_call.h"
#include "shim/interpose/real_symbol.h"
#include "shim/provider/asym_ciphers.h"
#include "shim/provider/ciphers.h"
#include "shim/provider/digests.h"
#include "shim/provider/kdfs.h"
#include "shim/provider/key_decoder.h"
#include "shim/provider/keyexch.h"
#include "shim/provider/keymgmt.h"
#include "shim/provider/macs.h"
#include "shim/provider/preload.h"
#include "shim/provider/signatures.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

namespace cryptine::provider {
namespace {

constexpr const char* kName = "cryptine";
constexpr const char* kBuildInfo = "cryptine " PACKAGE_VERSION " (built with " OPENSSL_VERSION_TEXT ")";

// The provider's own context: only the core's handle, kept for later slices (core
// callbacks, the library context).
struct ProviderContext {
  const OSSL_CORE_HANDLE* core;
};

const OSSL_PARAM* gettable_params(void*) {
  static const OSSL_PARAM kGettable[] = {OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
                                         OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, nullptr, 0),
                                         OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, nullptr, 0),
                                         OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr), OSSL_PARAM_END};
  return kGettable;
}

int get_params(void*, OSSL_PARAM params[]) {
  OSSL_PARAM* p;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != nullptr && !OSSL_PARAM_set_utf8_ptr(p, kName)) return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != nullptr &&
      !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_VERSION))
    return 0;
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != nullptr && !OSSL_PARAM_set_utf8_ptr(p, kBuildInfo))
    return 0;
  // Running: a missing KVM shows at the first call (an error then), not here, so that
  // loading the provider never boots a guest.
  if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != nullptr && !OSSL_PARAM_set_int(p, 1)) return 0;
  return 1;
}

const OSSL_ALGORITHM* query_operation(void*, int operation_id, int* no_cache) {
  *no_cache = 0;  // the tables are static
  switch (operation_id) {
    case OSSL_OP_DIGEST: return digest_algorithms();
    case OSSL_OP_CIPHER: return cipher_algorithms();
    case OSSL_OP_MAC: return mac_algorithms();
    case OSSL_OP_KDF: return kdf_algorithms();
    case OSSL_OP_KEYMGMT: return keymgmt_algorithms();
    case OSSL_OP_DECODER: return decoder_algorithms();
    case OSSL_OP_SIGNATURE: return signature_algorithms();
    case OSSL_OP_KEYEXCH: return keyexch_algorithms();
    case OSSL_OP_ASYM_CIPHER: return asym_cipher_algorithms();
    default: return nullptr;
  }
}

// The TLS groups whose keys it makes, with its key management. Under the preload none (a
// success all the same: a failure here fails libssl's SSL_CTX_new): the default provider
// declares the same groups, and libssl's fetch of their keys prefers this provider anyway.
int get_capabilities(void*, const char* capability, OSSL_CALLBACK* cb, void* arg) {
  return no_throw(0, [&] {
    if (OPENSSL_strcasecmp(capability, "TLS-GROUP") != 0) return 0;
    return installed_by_preload() ? 1 : tls_group_capabilities(cb, arg);
  });
}

void teardown(void* provctx) {
  delete static_cast<ProviderContext*>(provctx);
}

using Fn = void (*)(void);
const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<Fn>(&teardown)},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<Fn>(&gettable_params)},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<Fn>(&get_params)},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<Fn>(&query_operation)},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, reinterpret_cast<Fn>(&get_capabilities)},
    {0, nullptr}};

int init(const OSSL_CORE_HANDLE* core, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out, void** provctx) {
  take_core_bio_functions(in);
  auto* ctx = new (std::nothrow) ProviderContext{core};
  if (ctx == nullptr) {
    ERR_raise(ERR_LIB_PROV, ERR_R_MALLOC_FAILURE);
    return 0;
  }
  *out = kProviderFunctions;
  *provctx = ctx;
  return 1;
}

}  // namespace
}  // namespace cryptine::provider

CRYPTINE_EXPORT int OSSL_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                       const OSSL_DISPATCH** out, void** provctx) {
  return cryptine::no_throw(0, [&] { return cryptine::provider::init(handle, in, out, provctx); });
}
