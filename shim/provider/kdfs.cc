// The provider's KDFs, modelled on OpenSSL's providers/implementations/kdfs/. A KDF has no
// running state worth a virtine of its own: the context collects its parameters on the
// host (copies, cleansed when dropped) and a derivation sends them all in one request to
// a call-scoped virtine, so a derivation costs one exit, not one per HMAC inside it.
// The guest's answer must be exactly the length asked for.
#include "shim/provider/kdfs.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/provider/algorithm_filter.h"
#include "shim/provider/host_context.h"
#include "shim/provider/native_delegate.h"

namespace cryptine::provider {
namespace {

#define HKDF_COMMON_SETTABLES                                                                            \
  OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_MODE, nullptr, 0), OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, nullptr), \
      OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, nullptr, 0),                                     \
      OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, nullptr, 0),                                         \
      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, nullptr, 0),                                           \
      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, nullptr, 0)

// The parameters each KDF takes, as OpenSSL's own tables list them (openssl kdf -kdfopt
// converts text by these types).
const OSSL_PARAM kHkdfSettable[] = {HKDF_COMMON_SETTABLES, OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, nullptr, 0),
                                    OSSL_PARAM_END};
const OSSL_PARAM kTls13KdfSettable[] = {HKDF_COMMON_SETTABLES,
                                        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, nullptr, 0),
                                        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, nullptr, 0),
                                        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_DATA, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kTls1PrfSettable[] = {OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, nullptr, 0),
                                       OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, nullptr, 0),
                                       OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SECRET, nullptr, 0),
                                       OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SEED, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kPbkdf2Settable[] = {OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, nullptr, 0),
                                      OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, nullptr, 0),
                                      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PASSWORD, nullptr, 0),
                                      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, nullptr, 0),
                                      OSSL_PARAM_uint64(OSSL_KDF_PARAM_ITER, nullptr),
                                      OSSL_PARAM_int(OSSL_KDF_PARAM_PKCS5, nullptr),
                                      OSSL_PARAM_END};

struct KdfInfo {
  const char* guest_name;
  const OSSL_PARAM* settable;
  bool hkdf_modes;  // HKDF and TLS13-KDF: an extract-only derivation has the digest's size
};
const KdfInfo kHkdf{"HKDF", kHkdfSettable, true};
const KdfInfo kTls13Kdf{"TLS13-KDF", kTls13KdfSettable, true};
const KdfInfo kTls1Prf{"TLS1-PRF", kTls1PrfSettable, false};
const KdfInfo kPbkdf2{"PBKDF2", kPbkdf2Settable, false};

// A parameter's value, owned: the program's array may be gone by the derivation.
struct OwnedParam {
  std::string key;
  unsigned int data_type;
  std::vector<uint8_t> data;  // data_size bytes, then a NUL for strings
  size_t data_size;
};

struct KdfContext {
  const KdfInfo* info;
  std::vector<OwnedParam> params;

  ~KdfContext() { forget(); }
  void forget() {
    for (OwnedParam& p : params) OPENSSL_cleanse(p.data.data(), p.data.size());
    params.clear();
  }
};

KdfContext* as_context(void* vctx) {
  return static_cast<KdfContext*>(vctx);
}

const OwnedParam* find(const KdfContext& ctx, std::string_view key) {
  for (const OwnedParam& p : ctx.params)
    if (p.key == key) return &p;
  return nullptr;
}

bool hand_over(void* ours, void* native_ctx, const OSSL_DISPATCH* native);
constexpr DelegateKind kDelegate{OSSL_OP_KDF, OSSL_FUNC_KDF_NEWCTX, OSSL_FUNC_KDF_FREECTX,
                                 &free_host_context<KdfContext>, &hand_over};

template <const KdfInfo& Info>
void* new_context(void*) {
  return new_delegated(kDelegate, Info.guest_name,
                       [] { return new_host_context<KdfContext>(&Info, std::vector<OwnedParam>{}); });
}

void reset(void* vctx) {
  no_throw(0, [&] {
    as_context(vctx)->forget();
    return 0;
  });
}

// Keeps copies of `params`. A name given again replaces what it held; several of one name
// in one call are all kept, in order (HKDF's info and TLS1-PRF's seed are concatenated
// so). Properties are not kept: the guest has one provider, and a query naming this one
// would fail there.
int set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    KdfContext* ctx = as_context(vctx);
    if (params == nullptr) return 1;
    std::vector<OwnedParam> added;
    std::set<std::string_view> named;
    for (const OSSL_PARAM* p = params; p->key != nullptr; ++p) {
      if (std::string_view(p->key) == OSSL_KDF_PARAM_PROPERTIES) continue;
      const bool by_value = p->data_type == OSSL_PARAM_INTEGER || p->data_type == OSSL_PARAM_UNSIGNED_INTEGER ||
                            p->data_type == OSSL_PARAM_UTF8_STRING || p->data_type == OSSL_PARAM_OCTET_STRING;
      if (!by_value || (p->data == nullptr && p->data_size != 0)) {
        ERR_raise_data(ERR_LIB_PROV, PROV_R_FAILED_TO_SET_PARAMETER, "cryptine KDF: %s must be passed by value",
                       p->key);
        return 0;
      }
      OwnedParam owned{p->key, p->data_type, std::vector<uint8_t>(p->data_size + 1, 0), p->data_size};
      if (p->data_size != 0) std::memcpy(owned.data.data(), p->data, p->data_size);
      added.push_back(std::move(owned));
      named.insert(p->key);
    }
    std::erase_if(ctx->params, [&](OwnedParam& p) {
      if (named.count(p.key) == 0) return false;
      OPENSSL_cleanse(p.data.data(), p.data.size());
      return true;
    });
    for (OwnedParam& p : added) ctx->params.push_back(std::move(p));
    return 1;
  });
}

// The OSSL_PARAM array over the context's copies, end-marked.
std::vector<OSSL_PARAM> as_params(KdfContext& ctx) {
  std::vector<OSSL_PARAM> list;
  for (OwnedParam& p : ctx.params)
    list.push_back({p.key.c_str(), p.data_type, p.data.data(), p.data_size, OSSL_PARAM_UNMODIFIED});
  list.push_back(OSSL_PARAM_construct_end());
  return list;
}

// A context falling back to the default provider's KDF: the parameters collected so far
// go to it as they came (repeated names in order), before the call is replayed there.
bool hand_over(void* ours, void* native_ctx, const OSSL_DISPATCH* native) {
  auto set = reinterpret_cast<int (*)(void*, const OSSL_PARAM[])>(function_of(native, OSSL_FUNC_KDF_SET_CTX_PARAMS));
  std::vector<OSSL_PARAM> list = as_params(*as_context(ours));
  return set != nullptr && set(native_ctx, list.data()) == 1;
}

// The contract of a derivation the guest returns: exactly the length asked for.
Status check_derived(const guest::Bytes& key, size_t keylen) {
  if (key.size() != keylen) return Error(ErrorCode::kGuestFault, "KDF output of the wrong length");
  return {};
}

int derive(void* vctx, unsigned char* key, size_t keylen, const OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    KdfContext* ctx = as_context(vctx);
    if (set_ctx_params(vctx, params) != 1) return 0;
    if (key == nullptr || keylen == 0) {
      ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY_LENGTH);
      return 0;
    }
    std::vector<OSSL_PARAM> list = as_params(*ctx);
    const Served served = run_call_scoped(Family::kKdf, [&](Virtine& v) -> Status {
      guest::Bytes derived = CRYPTINE_TRY(guest::kdf_derive(v, ctx->info->guest_name, list.data(), keylen));
      if (Status ok = check_derived(derived, keylen); !ok) return v.poison(ok.error());
      std::memcpy(key, derived.data(), keylen);
      OPENSSL_cleanse(derived.data(), derived.size());
      return {};
    });
    switch (served) {
      case Served::kDone: return 1;
      case Served::kFailed: return 0;
      case Served::kNative: break;
    }
    no_virtine_now();
    return 0;
  });
}

// OSSL_KDF_PARAM_SIZE, answered on the host: the digest's size for an extract-only HKDF,
// otherwise unbounded, as OpenSSL's own KDFs answer.
int get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    const KdfContext* ctx = as_context(vctx);
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_KDF_PARAM_SIZE);
    if (p == nullptr) return 1;
    size_t size = SIZE_MAX;
    const OwnedParam* mode = find(*ctx, OSSL_KDF_PARAM_MODE);
    const bool extract_only =
        mode != nullptr &&
        ((mode->data_type == OSSL_PARAM_UTF8_STRING &&
          OPENSSL_strcasecmp(reinterpret_cast<const char*>(mode->data.data()), "EXTRACT_ONLY") == 0) ||
         (mode->data_type == OSSL_PARAM_INTEGER && mode->data_size == sizeof(int) &&
          *reinterpret_cast<const int*>(mode->data.data()) == EVP_KDF_HKDF_MODE_EXTRACT_ONLY));
    if (ctx->info->hkdf_modes && extract_only) {
      const OwnedParam* digest = find(*ctx, OSSL_KDF_PARAM_DIGEST);
      const EVP_MD* md = digest == nullptr || digest->data_type != OSSL_PARAM_UTF8_STRING
                             ? nullptr
                             : EVP_get_digestbyname(reinterpret_cast<const char*>(digest->data.data()));
      if (md == nullptr || EVP_MD_get_size(md) <= 0) {
        ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_MESSAGE_DIGEST);
        return 0;
      }
      size = static_cast<size_t>(EVP_MD_get_size(md));
    }
    return OSSL_PARAM_set_size_t(p, size) ? 1 : 0;
  });
}

const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  static const OSSL_PARAM kGettable[] = {OSSL_PARAM_size_t(OSSL_KDF_PARAM_SIZE, nullptr), OSSL_PARAM_END};
  return kGettable;
}

template <const KdfInfo& Info>
const OSSL_PARAM* settable_ctx_params(void*, void*) {
  return Info.settable;
}

using Fn = void (*)(void);
template <const KdfInfo& Info>
const OSSL_DISPATCH kFunctions[] = {
    {OSSL_FUNC_KDF_NEWCTX, reinterpret_cast<Fn>(&new_context<Info>)},
    {OSSL_FUNC_KDF_DUPCTX, reinterpret_cast<Fn>(&dup_delegated<OSSL_FUNC_KDF_DUPCTX, &dup_host_context<KdfContext>>)},
    {OSSL_FUNC_KDF_FREECTX, reinterpret_cast<Fn>(&free_delegated)},
    CRYPTINE_FORWARD(OSSL_FUNC_KDF_RESET, &reset),
    CRYPTINE_FORWARD(OSSL_FUNC_KDF_DERIVE, &derive),
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&settable_ctx_params<Info>)},
    CRYPTINE_FORWARD(OSSL_FUNC_KDF_SET_CTX_PARAMS, &set_ctx_params),
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, reinterpret_cast<Fn>(&gettable_ctx_params)},
    CRYPTINE_FORWARD(OSSL_FUNC_KDF_GET_CTX_PARAMS, &get_ctx_params),
    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {
    {"HKDF", "provider=cryptine", kFunctions<kHkdf>, "HKDF in a cryptine virtine"},
    {"TLS13-KDF", "provider=cryptine", kFunctions<kTls13Kdf>, "TLS 1.3 KDF in a cryptine virtine"},
    {"TLS1-PRF", "provider=cryptine", kFunctions<kTls1Prf>, "TLS 1.0-1.2 PRF in a cryptine virtine"},
    {"PBKDF2:1.2.840.113549.1.5.12", "provider=cryptine", kFunctions<kPbkdf2>, "PBKDF2 in a cryptine virtine"}};

}  // namespace

const OSSL_ALGORITHM* kdf_algorithms() {
  static const std::vector<OSSL_ALGORITHM>* list = new std::vector<OSSL_ALGORITHM>(offered(kAlgorithms));
  return list->data();
}

}  // namespace cryptine::provider
