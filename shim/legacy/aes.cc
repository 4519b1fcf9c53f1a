// The legacy AES block API: AES_set_encrypt_key, AES_set_decrypt_key, AES_encrypt,
// AES_decrypt and AES_cbc_encrypt, the block code the Virtines paper's OpenSSL study
// isolated. A program's AES_KEY gets a twin: two guest cipher contexts keyed in the
// direction the AES_KEY was set for, AES-<bits>-ECB for single blocks and AES-<bits>-CBC
// for AES_cbc_encrypt, both without padding. The AES_KEY then holds only a marker and its
// round count (slot_table.h), never the key or its schedule. One exit per AES_encrypt:
// slow by design. Calls from libcrypto and libssl themselves stay OpenSSL's.
#define OPENSSL_SUPPRESS_DEPRECATED  // the legacy API is what is interposed here
#include <openssl/aes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_call.h"
#include "shim/interpose/real_symbol.h"
#include "shim/legacy/openssl_caller.h"
#include "shim/legacy/slot_table.h"

namespace cryptine::legacy {
namespace {

constexpr size_t kBlock = AES_BLOCK_SIZE;

// The IV the guest's CBC context holds after its last update (the last ciphertext block:
// public), so a program chaining through one ivec costs one exit per call, not two.
// Touched only inside the lease's with_virtine, under its lock.
struct CbcChain {
  bool known = false;
  uint8_t iv[kBlock] = {};
};

struct AesTwin {
  Twin twin;  // the lease, and the ECB context
  guest::Handle cbc = 0;
  bool encrypt = true;
  std::shared_ptr<CbcChain> chain;
};

// 64 keyed AES_KEYs at once, each a guest context pair (a virtine of its own with
// CRYPTINE_SCOPE=context, about 0.4 MiB); the least recently used beyond that is evicted.
constexpr size_t kSlots = 64;
constexpr uint64_t kMagic = 0x59454b5345416374ULL;  // "tcAESKEY"

SlotTable<AesTwin>& table() {
  return process_table<AesTwin, kMagic, kSlots>();
}
[[maybe_unused]] SlotTable<AesTwin>& table_made_at_load = table();

void end(const AesTwin& t) {
  drop_context(t.twin.lease, t.cbc);
  drop_context(t.twin.lease, t.twin.handle);
}

void mark(AES_KEY* key, const Marker& m, int bits) {
  write_marker(key->rd_key, sizeof(key->rd_key), m);
  key->rounds = bits / 32 + 6;  // what OpenSSL stores, for a program that reads it
}

// A call on an AES_KEY that holds a marker but no live twin, or in the wrong direction:
// failed (its output zeroed, so no plaintext passes for ciphertext), the reason raised.
void refuse(unsigned char* out, size_t n, const char* why) {
  if (out != nullptr && n > 0) std::memset(out, 0, n);
  fail_call(Error(ErrorCode::kInvalidArgument, why));
}

constexpr const char* kNoTwin =
    "this AES_KEY's key is not in a virtine (evicted, a byte copy, set before fork(), or its set-up failed)";
constexpr const char* kWrongWay = "an AES_KEY set for one direction used for the other";

Result<guest::Handle> keyed(Virtine& v, const std::string& cipher, std::span<const uint8_t> key, bool encrypt) {
  guest::CipherInit init;
  init.cipher = cipher;
  init.key = &key;
  init.enc = encrypt ? 1 : 0;
  const guest::Handle h = CRYPTINE_TRY(guest::cipher_init(v, init));
  unsigned int pad = 0;  // whole blocks in, whole blocks out: nothing held back
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &pad), OSSL_PARAM_construct_end()};
  if (CRYPTINE_TRY(guest::set_params(v, h, params)) <= 0)
    return Error(ErrorCode::kGuestFault, "the guest would not turn padding off");
  return h;
}

template <typename Real>
int set_key(const unsigned char* user, int bits, AES_KEY* key, bool encrypt, const void* caller, Real real) {
  if (user == nullptr || key == nullptr || (bits != 128 && bits != 192 && bits != 256) ||
      called_by_openssl_code(caller)) {
    InOpenSsl in_openssl;  // OpenSSL's own answer (-1, -2), or OpenSSL's own key
    return real(user, bits, key);
  }
  if (auto old = table().take(key)) end(*old);  // re-keyed: the old twin goes
  const std::string size = std::to_string(bits);
  Runtime& rt = Runtime::get();
  switch (route(rt.cipher_enabled(EVP_get_cipherbyname(("AES-" + size + "-ECB").c_str())) ||
                rt.cipher_enabled(EVP_get_cipherbyname(("AES-" + size + "-CBC").c_str())))) {
    case Route::kNative: {
      InOpenSsl in_openssl;
      return real(user, bits, key);
    }
    case Route::kFail: mark(key, table().dead(), bits); return -1;
    case Route::kVirtine: break;
  }
  const std::span<const uint8_t> k(user, static_cast<size_t>(bits / 8));
  guest::Handle cbc = 0;
  Twin made;
  const Served served = make_twin(
      Family::kCipher,
      [&](Virtine& v) -> Result<guest::Handle> {
        const guest::Handle ecb = CRYPTINE_TRY(keyed(v, "AES-" + size + "-ECB", k, encrypt));
        cbc = CRYPTINE_TRY(keyed(v, "AES-" + size + "-CBC", k, encrypt));
        return ecb;
      },
      &made);
  switch (served) {
    case Served::kDone: break;
    case Served::kFailed: mark(key, table().dead(), bits); return -1;
    case Served::kNative: {
      InOpenSsl in_openssl;
      return real(user, bits, key);
    }
  }
  made.lease->add_context();  // the CBC context beside the ECB one
  std::optional<AesTwin> evicted;
  const Marker m = table().put(key, AesTwin{made, cbc, encrypt, std::make_shared<CbcChain>()}, &evicted);
  if (evicted) end(*evicted);
  mark(key, m, bits);
  return 0;
}

template <typename Real>
void block(const unsigned char* in, unsigned char* out, const AES_KEY* key, bool encrypt, Real real) {
  std::optional<AesTwin> t = key != nullptr ? table().find(key) : std::nullopt;
  if (!t) {
    if (key != nullptr && table().marked(key)) return refuse(out, kBlock, kNoTwin);
    InOpenSsl in_openssl;
    return real(in, out, key);
  }
  if (t->encrypt != encrypt) return refuse(out, kBlock, kWrongWay);
  uint8_t data[kBlock];
  std::memcpy(data, in, kBlock);  // in may be out
  uint8_t result[kBlock];
  const bool ok = run_on_twin(t->twin, Family::kCipher, [&](Virtine& v) -> Status {
    const size_t n = CRYPTINE_TRY(guest::cipher_update_into(v, t->twin.handle, data, result));
    if (n != kBlock) return v.poison(Error(ErrorCode::kGuestFault, "an AES block of the wrong length"));
    return {};
  });
  if (!ok) return (void)std::memset(out, 0, kBlock);
  std::memcpy(out, result, kBlock);
}

// As OpenSSL's CRYPTO_cbc128_*: encrypting, a partial last block is padded with zeros and
// written whole; decrypting, it is read whole and only `length` bytes written. Either way
// ivec ends as the last ciphertext block.
template <typename Real>
void cbc(const unsigned char* in, unsigned char* out, size_t length, const AES_KEY* key, unsigned char* ivec, int enc,
         Real real) {
  std::optional<AesTwin> t = key != nullptr ? table().find(key) : std::nullopt;
  const bool encrypt = enc != AES_DECRYPT;
  const size_t whole = (length + kBlock - 1) / kBlock * kBlock;
  const size_t written = encrypt ? whole : length;
  if (!t) {
    if (key != nullptr && table().marked(key)) return refuse(out, written, kNoTwin);
    InOpenSsl in_openssl;
    return real(in, out, length, key, ivec, enc);
  }
  if (length == 0) return;  // as OpenSSL: nothing, ivec unchanged
  if (length > PTRDIFF_MAX - kBlock) return refuse(nullptr, 0, "AES_cbc_encrypt: a length no buffer has");
  if (t->encrypt != encrypt) return refuse(out, written, kWrongWay);
  guest::Bytes data(whole, 0);
  std::memcpy(data.data(), in, encrypt ? length : whole);
  guest::Bytes result(whole);
  uint8_t iv[kBlock];
  std::memcpy(iv, ivec, kBlock);
  const bool ok = run_on_twin(t->twin, Family::kCipher, [&](Virtine& v) -> Status {
    CbcChain& chain = *t->chain;
    if (!chain.known || std::memcmp(chain.iv, iv, kBlock) != 0) {
      chain.known = false;
      const std::span<const uint8_t> ivs(iv, kBlock);
      guest::CipherInit init;  // the same key, a new IV
      init.handle = t->cbc;
      init.iv = &ivs;
      CRYPTINE_TRY(guest::cipher_init(v, init));
    }
    chain.known = false;
    const size_t n = CRYPTINE_TRY(guest::cipher_update_into(v, t->cbc, data, result));
    if (n != whole) return v.poison(Error(ErrorCode::kGuestFault, "AES-CBC output of the wrong length"));
    std::memcpy(chain.iv, (encrypt ? result : data).data() + whole - kBlock, kBlock);
    chain.known = true;
    return {};
  });
  if (!ok) return (void)std::memset(out, 0, written);
  std::memcpy(ivec, (encrypt ? result : data).data() + whole - kBlock, kBlock);
  std::memcpy(out, result.data(), written);
}

}  // namespace
}  // namespace cryptine::legacy

using namespace cryptine;
using namespace cryptine::legacy;

CRYPTINE_EXPORT int AES_set_encrypt_key(const unsigned char* user, const int bits, AES_KEY* key) {
  const void* caller = __builtin_return_address(0);
  return no_throw(-1, [&] { return set_key(user, bits, key, true, caller, CRYPTINE_REAL(AES_set_encrypt_key)); });
}

CRYPTINE_EXPORT int AES_set_decrypt_key(const unsigned char* user, const int bits, AES_KEY* key) {
  const void* caller = __builtin_return_address(0);
  return no_throw(-1, [&] { return set_key(user, bits, key, false, caller, CRYPTINE_REAL(AES_set_decrypt_key)); });
}

CRYPTINE_EXPORT void AES_encrypt(const unsigned char* in, unsigned char* out, const AES_KEY* key) {
  no_throw(0, [&] {
    block(in, out, key, true, CRYPTINE_REAL(AES_encrypt));
    return 0;
  });
}

CRYPTINE_EXPORT void AES_decrypt(const unsigned char* in, unsigned char* out, const AES_KEY* key) {
  no_throw(0, [&] {
    block(in, out, key, false, CRYPTINE_REAL(AES_decrypt));
    return 0;
  });
}

CRYPTINE_EXPORT void AES_cbc_encrypt(const unsigned char* in, unsigned char* out, size_t length, const AES_KEY* key,
                                     unsigned char* ivec, const int enc) {
  no_throw(0, [&] {
    cbc(in, out, length, key, ivec, enc, CRYPTINE_REAL(AES_cbc_encrypt));
    return 0;
  });
}
