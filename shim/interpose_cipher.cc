// Interposed EVP cipher contexts. A context whose cipher is enabled gets a twin: the
// program's EVP_CIPHER_CTX is initialised with the cipher and direction only (so block
// size, IV length, mode and the cipher object still answer), while the key, the IV and
// every state change go to the twin context inside a virtine, which runs the same
// OpenSSL code and so keeps its exact semantics (padding, AEAD tags, the TLS ctrls).
// Contexts without a twin, and calls made by OpenSSL itself, go to OpenSSL unchanged.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "shim/guest_ops.h"
#include "shim/real_symbol.h"
#include "shim/virtine_call.h"

namespace cryptine {
namespace {

TwinTable& twins() {
  static TwinTable* table = new TwinTable();  // never destroyed: threads may outlive statics
  return *table;
}
[[maybe_unused]] TwinTable& twins_made_at_load = twins();  // before threads exist: see twin_table.h

std::span<const uint8_t> bytes(const unsigned char* p, int n) {
  return p == nullptr || n <= 0 ? std::span<const uint8_t>() : std::span<const uint8_t>(p, static_cast<size_t>(n));
}

// Ends ctx's twin, if it has one: the context is being reset, freed or taken over.
void forget(const EVP_CIPHER_CTX* ctx) {
  if (auto twin = twins().take(ctx)) release_twin(*twin);
}

bool on_twin(const Twin& twin, const std::function<Status(Virtine&)>& fn) {
  return run_on_twin(twin, Family::kCipher, fn);
}

int real_init(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl, const unsigned char* key,
              const unsigned char* iv, int enc) {
  InOpenSsl in_openssl;
  return CRYPTINE_REAL(EVP_CipherInit_ex)(ctx, cipher, impl, key, iv, enc);
}

int init(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl, const unsigned char* key,
         const unsigned char* iv, int enc) {
  if (ctx == nullptr || called_from_openssl()) return real_init(ctx, cipher, impl, key, iv, enc);
  Runtime& rt = Runtime::get();
  std::optional<Twin> twin = twins().find(ctx);
  if (!twin) {
    if (cipher == nullptr || impl != nullptr) return real_init(ctx, cipher, impl, key, iv, enc);  // not ours
    switch (route(rt.cipher_enabled(cipher))) {
      case Route::kNative: return real_init(ctx, cipher, impl, key, iv, enc);
      case Route::kFail: return 0;
      case Route::kVirtine: break;
    }
  } else if (impl != nullptr || (cipher != nullptr && !rt.cipher_enabled(cipher))) {
    forget(ctx);  // re-initialised for something not served here: OpenSSL's from now on
    (void)route(false);
    return real_init(ctx, cipher, impl, key, iv, enc);
  }
  // The host context: algorithm and direction only, never the key or IV. Re-initialising
  // it with a cipher makes OpenSSL reset it (through EVP_CIPHER_CTX_reset, which ends
  // twins), so the twin stays out of the table meanwhile.
  if (twin) twins().take(ctx);
  if (!real_init(ctx, cipher, nullptr, nullptr, nullptr, enc)) {
    if (twin) release_twin(*twin);
    return 0;
  }
  if (twin) twins().put(ctx, *twin);
  const std::span<const uint8_t> k = bytes(key, EVP_CIPHER_CTX_get_key_length(ctx));
  const std::span<const uint8_t> i = bytes(iv, EVP_CIPHER_CTX_get_iv_length(ctx));
  guest::CipherInit request;
  request.cipher = cipher != nullptr ? EVP_CIPHER_get0_name(cipher) : "";
  request.key = key != nullptr ? &k : nullptr;
  request.iv = iv != nullptr ? &i : nullptr;
  request.enc = enc;
  if (twin) {
    request.handle = twin->handle;
    return on_twin(*twin, [&](Virtine& v) -> Status {
             CRYPTINE_TRY(guest::cipher_init(v, request));
             return {};
           })
               ? 1
               : 0;
  }
  Twin made;
  switch (make_twin(Family::kCipher, [&](Virtine& v) { return guest::cipher_init(v, request); }, &made)) {
    case Served::kDone: twins().put(ctx, made); return 1;
    case Served::kFailed: return 0;
    case Served::kNative: return real_init(ctx, nullptr, nullptr, key, iv, enc);  // the host context, keyed
  }
  return 0;
}

// Arguments OpenSSL refuses before it touches any data (a negative length, no outl, the
// wrong direction; `dir` is 1 for Encrypt*, 0 for Decrypt*, -1 for Cipher*): its own
// function on the program's (unkeyed) context then gives its exact verdict and error,
// and nothing reaches the guest.
bool refused_by_openssl(const EVP_CIPHER_CTX* ctx, const int* outl, int inl, int dir) {
  return inl < 0 || outl == nullptr || (dir != -1 && dir != EVP_CIPHER_CTX_is_encrypting(ctx));
}

// What a cipher may write beyond its input: a block cipher one block (held back, or
// padding), a stream or AEAD mode (block size 1) nothing.
size_t block_overhang(const EVP_CIPHER_CTX* ctx) {
  const int block = EVP_CIPHER_CTX_get_block_size(ctx);
  return block > 1 ? static_cast<size_t>(block) : 0;
}

// The most an update of inl bytes writes, per OpenSSL's manual: inl + block size - 1
// encrypting, inl + block size decrypting, and exactly inl for a stream or AEAD mode.
// A program may give just that much room, so it is all a guest may fill.
size_t update_room(const EVP_CIPHER_CTX* ctx, int inl) {
  const size_t overhang = block_overhang(ctx);
  return static_cast<size_t>(inl) + overhang - (overhang > 0 && EVP_CIPHER_CTX_is_encrypting(ctx) ? 1 : 0);
}

// A stream or AEAD mode turns each input byte into one output byte; only in place, where
// libssl's TLS record mode strips an explicit IV and tag, may it write fewer.
bool writes_exactly_its_input(const EVP_CIPHER_CTX* ctx, const unsigned char* out, const unsigned char* in) {
  return EVP_CIPHER_CTX_get_block_size(ctx) == 1 && out != in;
}

template <typename Real>
int update(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in, int inl, int dir, Real real) {
  std::optional<Twin> twin = twin_of(twins(), ctx);
  if (!twin) {
    InOpenSsl in_openssl;
    return real(ctx, out, outl, in, inl);
  }
  if (refused_by_openssl(ctx, outl, inl, dir)) {
    InOpenSsl in_openssl;
    return real(ctx, out, outl, in, inl);
  }
  *outl = 0;
  if (in == nullptr && inl > 0) {  // (CCM's length-only update is not served)
    ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
    return 0;
  }
  const std::span<const uint8_t> data = bytes(in, inl);
  if (out == nullptr) {  // AAD: the modes served take all of it
    return on_twin(*twin, [&](Virtine& v) -> Status {
             const int taken = CRYPTINE_TRY(guest::cipher_aad(v, twin->handle, data));
             if (taken != inl) return v.poison(Error(ErrorCode::kGuestFault, "AAD update took the wrong length"));
             *outl = taken;
             return {};
           })
               ? 1
               : 0;
  }
  const std::span<uint8_t> room(out, update_room(ctx, inl));
  const bool exact = writes_exactly_its_input(ctx, out, in);
  return on_twin(*twin, [&](Virtine& v) -> Status {
           const size_t written =
               out == in && data.size() <= guest::max_in_place()
                   ? static_cast<size_t>(CRYPTINE_TRY(guest::cipher_update_in_place(v, twin->handle, data, room)))
                   : CRYPTINE_TRY(guest::cipher_update_into(v, twin->handle, data, room));
           if (exact && written != data.size())
             return v.poison(Error(ErrorCode::kGuestFault, "stream cipher update wrote the wrong length"));
           *outl = static_cast<int>(written);
           return {};
         })
             ? 1
             : 0;
}

template <typename Real>
int final(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, int dir, Real real) {
  std::optional<Twin> twin = twin_of(twins(), ctx);
  if (!twin) {
    InOpenSsl in_openssl;
    return real(ctx, out, outl);
  }
  if (refused_by_openssl(ctx, outl, 0, dir)) {
    InOpenSsl in_openssl;
    return real(ctx, out, outl);
  }
  *outl = 0;
  const size_t limit = block_overhang(ctx);  // a stream or AEAD mode's final writes nothing
  return on_twin(*twin, [&](Virtine& v) -> Status {
           guest::Bytes o = CRYPTINE_TRY(guest::cipher_final(v, twin->handle));
           if (o.size() > limit) return v.poison(Error(ErrorCode::kGuestFault, "cipher final returned too much"));
           if (!o.empty()) std::memcpy(out, o.data(), o.size());
           *outl = static_cast<int>(o.size());
           return {};
         })
             ? 1
             : 0;
}

// What a ctrl's pointer argument holds: bytes sent to the guest, bytes coming back.
struct CtrlBuffer {
  bool known;
  int in, out;
};

CtrlBuffer ctrl_buffer(const EVP_CIPHER_CTX* ctx, int type, int arg, const void* ptr) {
  const int given = ptr != nullptr ? arg : 0;
  switch (type) {
    case EVP_CTRL_INIT:
    case EVP_CTRL_SET_KEY_LENGTH:
    case EVP_CTRL_AEAD_SET_IVLEN:
    case EVP_CTRL_CCM_SET_L: return {true, 0, 0};
    case EVP_CTRL_AEAD_SET_TAG: return {true, given, given};  // NULL: sets the tag length only
    case EVP_CTRL_AEAD_GET_TAG:
    case EVP_CTRL_GCM_IV_GEN: return {true, 0, given};
    case EVP_CTRL_AEAD_SET_IV_FIXED:
      return {true, ptr == nullptr ? 0 : arg == -1 ? EVP_CIPHER_CTX_get_iv_length(ctx) : arg, 0};
    case EVP_CTRL_GCM_SET_IV_INV:
    case EVP_CTRL_AEAD_SET_MAC_KEY: return {true, given, 0};
    case EVP_CTRL_AEAD_TLS1_AAD: return {true, given, given};
    case EVP_CTRL_GET_IVLEN: return {true, 0, ptr != nullptr ? static_cast<int>(sizeof(int)) : 0};
    case EVP_CTRL_RAND_KEY: return {true, 0, ptr != nullptr ? EVP_CIPHER_CTX_get_key_length(ctx) : 0};
    default: return {false, 0, 0};
  }
}

// Setting an AEAD's IV length to the one it has (as openssl speed does before every
// operation) changes nothing in OpenSSL's GCM, CCM and ChaCha20-Poly1305 providers, and the
// program's context mirrors the length exactly: answered here, with no exit.
bool unchanged_aead_iv_length(const EVP_CIPHER_CTX* ctx, int arg) {
  const EVP_CIPHER* c = EVP_CIPHER_CTX_get0_cipher(ctx);
  if (c == nullptr || arg <= 0 || arg != EVP_CIPHER_CTX_get_iv_length(ctx)) return false;
  const int mode = EVP_CIPHER_get_mode(c);
  return mode == EVP_CIPH_GCM_MODE || mode == EVP_CIPH_CCM_MODE || EVP_CIPHER_get_nid(c) == NID_chacha20_poly1305;
}

// The params of a set_params that the host context mirrors: its geometry, never secrets,
// so OpenSSL's accessors on the program's context stay right.
std::vector<OSSL_PARAM> geometry_of(const OSSL_PARAM* params) {
  std::vector<OSSL_PARAM> kept;
  for (const OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p) {
    const std::string_view key = p->key;
    if (key == OSSL_CIPHER_PARAM_KEYLEN || key == OSSL_CIPHER_PARAM_IVLEN || key == OSSL_CIPHER_PARAM_PADDING)
      kept.push_back(*p);
  }
  kept.push_back(OSSL_PARAM_construct_end());
  return kept;
}

int set_params(EVP_CIPHER_CTX* ctx, const OSSL_PARAM* params) {
  std::optional<Twin> twin = twin_of(twins(), ctx);
  if (!twin) {
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_CIPHER_CTX_set_params)(ctx, params);
  }
  int ret = 0;
  if (!on_twin(*twin, [&](Virtine& v) -> Status {
        ret = CRYPTINE_TRY(guest::set_params(v, twin->handle, params));
        return {};
      }))
    return 0;
  std::vector<OSSL_PARAM> geometry = geometry_of(params);
  if (ret > 0 && geometry.size() > 1) {
    InOpenSsl in_openssl;
    (void)CRYPTINE_REAL(EVP_CIPHER_CTX_set_params)(ctx, geometry.data());
  }
  return ret;
}

}  // namespace
}  // namespace cryptine

using namespace cryptine;

CRYPTINE_EXPORT int EVP_CipherInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl,
                                      const unsigned char* key, const unsigned char* iv, int enc) {
  return no_throw(0, [&] { return init(ctx, cipher, impl, key, iv, enc); });
}

CRYPTINE_EXPORT int EVP_EncryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl,
                                       const unsigned char* key, const unsigned char* iv) {
  return no_throw(0, [&] { return init(ctx, cipher, impl, key, iv, 1); });
}

CRYPTINE_EXPORT int EVP_DecryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl,
                                       const unsigned char* key, const unsigned char* iv) {
  return no_throw(0, [&] { return init(ctx, cipher, impl, key, iv, 0); });
}

// The non-_ex forms reset the context first when given a cipher, as OpenSSL's do.
CRYPTINE_EXPORT int EVP_CipherInit(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                                   const unsigned char* iv, int enc) {
  return no_throw(0, [&] {
    if (called_from_openssl() || ctx == nullptr) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_CipherInit)(ctx, cipher, key, iv, enc);
    }
    if (cipher != nullptr) {
      forget(ctx);
      InOpenSsl in_openssl;
      CRYPTINE_REAL(EVP_CIPHER_CTX_reset)(ctx);
    }
    return init(ctx, cipher, nullptr, key, iv, enc);
  });
}

// The _ex2 forms: params apply after the algorithm is set and before the key and IV.
namespace cryptine {
namespace {
int init_ex2(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const unsigned char* key, const unsigned char* iv,
             int enc, const OSSL_PARAM params[]) {
  if (params == nullptr || params[0].key == nullptr) return init(ctx, cipher, nullptr, key, iv, enc);
  return init(ctx, cipher, nullptr, nullptr, nullptr, enc) && set_params(ctx, params) > 0 &&
                 init(ctx, nullptr, nullptr, key, iv, enc)
             ? 1
             : 0;
}
}  // namespace
}  // namespace cryptine

CRYPTINE_EXPORT int EVP_CipherInit_ex2(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                                       const unsigned char* iv, int enc, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init_ex2(ctx, cipher, key, iv, enc, params); });
}

CRYPTINE_EXPORT int EVP_EncryptInit_ex2(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                                        const unsigned char* iv, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init_ex2(ctx, cipher, key, iv, 1, params); });
}

CRYPTINE_EXPORT int EVP_DecryptInit_ex2(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                                        const unsigned char* iv, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return init_ex2(ctx, cipher, key, iv, 0, params); });
}

CRYPTINE_EXPORT int EVP_CipherUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in,
                                     int inl) {
  return no_throw(0, [&] { return update(ctx, out, outl, in, inl, -1, CRYPTINE_REAL(EVP_CipherUpdate)); });
}

CRYPTINE_EXPORT int EVP_EncryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in,
                                      int inl) {
  return no_throw(0, [&] { return update(ctx, out, outl, in, inl, 1, CRYPTINE_REAL(EVP_EncryptUpdate)); });
}

CRYPTINE_EXPORT int EVP_DecryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in,
                                      int inl) {
  return no_throw(0, [&] { return update(ctx, out, outl, in, inl, 0, CRYPTINE_REAL(EVP_DecryptUpdate)); });
}

CRYPTINE_EXPORT int EVP_CipherFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl) {
  return no_throw(0, [&] { return final(ctx, out, outl, -1, CRYPTINE_REAL(EVP_CipherFinal_ex)); });
}

CRYPTINE_EXPORT int EVP_EncryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl) {
  return no_throw(0, [&] { return final(ctx, out, outl, 1, CRYPTINE_REAL(EVP_EncryptFinal_ex)); });
}

CRYPTINE_EXPORT int EVP_DecryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl) {
  return no_throw(0, [&] { return final(ctx, out, outl, 0, CRYPTINE_REAL(EVP_DecryptFinal_ex)); });
}

// EVP_Cipher: the whole-record call (TLS 1.2 AEAD on legacy paths, some programs).
CRYPTINE_EXPORT int EVP_Cipher(EVP_CIPHER_CTX* ctx, unsigned char* out, const unsigned char* in, unsigned int inl) {
  return no_throw(-1, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_Cipher)(ctx, out, in, inl);
    }
    if (in == nullptr && inl > 0) {
      ERR_raise(ERR_LIB_EVP, ERR_R_PASSED_NULL_PARAMETER);
      return -1;
    }
    // OpenSSL gives a provider inl + block size of room (inl for block size 1), and its
    // return value counts what was written.
    const size_t limit = size_t{inl} + block_overhang(ctx);
    const bool exact = in != nullptr && writes_exactly_its_input(ctx, out, in);
    int ret = -1;
    if (!on_twin(*twin, [&](Virtine& v) -> Status {
          auto raw = CRYPTINE_TRY(guest::cipher_raw(v, twin->handle, {in, in != nullptr ? inl : 0u}, in == nullptr,
                                                    out == nullptr, out == in));
          if (raw.out.size() > limit || (raw.ret > 0 && static_cast<size_t>(raw.ret) > limit) ||
              (exact && raw.ret >= 0 && static_cast<unsigned>(raw.ret) != inl))
            return v.poison(Error(ErrorCode::kGuestFault, "EVP_Cipher returned the wrong length"));
          if (out != nullptr && !raw.out.empty()) std::memcpy(out, raw.out.data(), raw.out.size());
          ret = raw.ret;
          if (ret <= 0 && raw.err_code != 0)
            ERR_raise_data(ERR_GET_LIB(raw.err_code), ERR_GET_REASON(raw.err_code), "in a cryptine virtine");
          return {};
        }))
      return -1;
    return ret;
  });
}

CRYPTINE_EXPORT int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX* ctx, int type, int arg, void* ptr) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_CIPHER_CTX_ctrl)(ctx, type, arg, ptr);
    }
    if (type == EVP_CTRL_AEAD_SET_IVLEN && unchanged_aead_iv_length(ctx, arg)) return 1;
    const CtrlBuffer buf = ctrl_buffer(ctx, type, arg, ptr);
    if (!buf.known || buf.in < 0 || buf.out < 0 || buf.in > EVP_MAX_KEY_LENGTH * 4 ||
        buf.out > EVP_MAX_KEY_LENGTH * 4) {
      // A ctrl not carried, or a size no cipher takes: the program's (unkeyed) context of
      // the same cipher gives OpenSSL's own verdict, and nothing is sent. Should OpenSSL
      // accept it, the twin cannot follow: refused.
      int host;
      {
        InOpenSsl in_openssl;
        host = CRYPTINE_REAL(EVP_CIPHER_CTX_ctrl)(ctx, type, arg, ptr);
      }
      if (host <= 0) return host;
      fail_call(Error(ErrorCode::kUnsupported, "cipher ctrl " + std::to_string(type) + " is not served in a virtine"));
      return 0;
    }
    int ret = 0;
    if (!on_twin(*twin, [&](Virtine& v) -> Status {
          auto [r, back] = CRYPTINE_TRY(guest::cipher_ctrl(
              v, twin->handle, type, arg, bytes(static_cast<const unsigned char*>(ptr), buf.in), buf.out));
          if (back.size() != static_cast<size_t>(buf.out))
            return v.poison(Error(ErrorCode::kGuestFault, "cipher ctrl returned the wrong length"));
          if (buf.out > 0) std::memcpy(ptr, back.data(), back.size());
          ret = r;
          return {};
        }))
      return 0;
    if (ret > 0 && (type == EVP_CTRL_AEAD_SET_IVLEN || type == EVP_CTRL_SET_KEY_LENGTH)) {
      InOpenSsl in_openssl;  // geometry the program's context must report too
      (void)CRYPTINE_REAL(EVP_CIPHER_CTX_ctrl)(ctx, type, arg, nullptr);
    }
    return ret;
  });
}

CRYPTINE_EXPORT int EVP_CIPHER_CTX_set_params(EVP_CIPHER_CTX* ctx, const OSSL_PARAM params[]) {
  return no_throw(0, [&] { return set_params(ctx, params); });
}

CRYPTINE_EXPORT int EVP_CIPHER_CTX_get_params(EVP_CIPHER_CTX* ctx, OSSL_PARAM params[]) {
  return no_throw(0, [&] {
    std::optional<Twin> twin = twin_of(twins(), ctx);
    if (!twin) {
      InOpenSsl in_openssl;
      return CRYPTINE_REAL(EVP_CIPHER_CTX_get_params)(ctx, params);
    }
    return get_params_on_twin(*twin, Family::kCipher, params);
  });
}

// set_padding and set_key_length reach the provider without EVP_CIPHER_CTX_set_params.
// OpenSSL's own function judges them on the program's context first (it refuses a key
// length the cipher cannot take, which the provider's set_params would just ignore);
// what it accepts goes to the twin too.
namespace cryptine {
namespace {
template <typename Real>
int geometry_change(EVP_CIPHER_CTX* ctx, Real real, const OSSL_PARAM* params) {
  std::optional<Twin> twin = twin_of(twins(), ctx);
  int host;
  {
    InOpenSsl in_openssl;
    host = real();
  }
  if (!twin || host <= 0) return host;
  int ret = 0;
  return on_twin(*twin, [&](Virtine& v) -> Status {
           ret = CRYPTINE_TRY(guest::set_params(v, twin->handle, params));
           return {};
         }) && ret > 0
             ? host
             : 0;
}
}  // namespace
}  // namespace cryptine

CRYPTINE_EXPORT int EVP_CIPHER_CTX_set_padding(EVP_CIPHER_CTX* ctx, int pad) {
  return no_throw(0, [&] {
    unsigned int pd = pad != 0 ? 1 : 0;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &pd), OSSL_PARAM_construct_end()};
    return geometry_change(ctx, [&] { return CRYPTINE_REAL(EVP_CIPHER_CTX_set_padding)(ctx, pad); }, params);
  });
}

CRYPTINE_EXPORT int EVP_CIPHER_CTX_set_key_length(EVP_CIPHER_CTX* ctx, int keylen) {
  return no_throw(0, [&] {
    size_t len = keylen > 0 ? static_cast<size_t>(keylen) : 0;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_KEYLEN, &len), OSSL_PARAM_construct_end()};
    return geometry_change(ctx, [&] { return CRYPTINE_REAL(EVP_CIPHER_CTX_set_key_length)(ctx, keylen); }, params);
  });
}

CRYPTINE_EXPORT int EVP_CIPHER_CTX_copy(EVP_CIPHER_CTX* out, const EVP_CIPHER_CTX* in) {
  return no_throw(0, [&] {
    if (out != nullptr && out != in) forget(out);
    std::optional<Twin> twin = in != nullptr ? twins().find(in) : std::nullopt;
    int copied;
    {
      InOpenSsl in_openssl;  // the host context: algorithm and direction, no key
      copied = CRYPTINE_REAL(EVP_CIPHER_CTX_copy)(out, in);
    }
    if (!copied || !twin) return copied;
    return copy_twin(twins(), *twin, out, Family::kCipher) ? 1 : 0;
  });
}

// Reset and free always end the twin, even when OpenSSL itself calls them.
CRYPTINE_EXPORT int EVP_CIPHER_CTX_reset(EVP_CIPHER_CTX* ctx) {
  return no_throw(0, [&] {
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    return CRYPTINE_REAL(EVP_CIPHER_CTX_reset)(ctx);
  });
}

CRYPTINE_EXPORT void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX* ctx) {
  no_throw(0, [&] {
    if (ctx != nullptr) forget(ctx);
    InOpenSsl in_openssl;
    CRYPTINE_REAL(EVP_CIPHER_CTX_free)(ctx);
    return 0;
  });
}
