#include "shim/client/guest_ops.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "shim/client/crypto_call.h"
#include "shim/client/param_wire.h"
#include "vmm/bulk_copy.h"

namespace cryptine::guest {
namespace {

// A reply's status mapped onto the error convention above; `where` names the part of
// the request that failed, when the guest says.
Result<MailboxReply> checked(Virtine& v, MailboxReply reply, std::string_view where = {}) {
  switch (reply.status) {
    case CRYPTINE_STATUS_OK: return reply;
    case CRYPTINE_STATUS_CRYPTO_ERROR: {
      char code[24];
      std::snprintf(code, sizeof(code), "0x%llx", static_cast<unsigned long long>(reply.err_code));
      return Error(ErrorCode::kGuestRefused,
                   std::string("OpenSSL in the guest failed").append(where).append(", error ").append(code))
          .with_detail(reply.err_code);
    }
    // The host names only handles it was given and sends only requests it validated, so
    // either answer means the guest's state is not what the host knows: not to be reused.
    case CRYPTINE_STATUS_NO_HANDLE: return v.poison(Error(ErrorCode::kGuestFault, "the guest lost a context or key"));
    case CRYPTINE_STATUS_BAD_REQUEST:
      return v.poison(Error(ErrorCode::kGuestFault, "the guest refused a well-formed request"));
    case CRYPTINE_STATUS_NO_SPACE: return Error(ErrorCode::kOutOfRange, "output does not fit the request's window");
    case CRYPTINE_STATUS_TABLE_FULL:
      return Error(ErrorCode::kOutOfRange, "the virtine already holds " + std::to_string(CRYPTINE_MAX_HANDLES) +
                                               " live contexts and keys; free some first");
    default: return v.poison(Error(ErrorCode::kGuestFault, "unknown reply status"));
  }
}

// One request whose reply status is mapped onto the error convention above.
Result<MailboxReply> request(Virtine& v, const CryptoRequest& r) {
  return checked(v, CRYPTINE_TRY(call_in_virtine(v, r)));
}

Bytes copy(std::span<const uint8_t> s) {
  return Bytes(s.begin(), s.end());
}

// Feeds `data` to an update op in pieces that fit one mailbox with `out_per_byte`
// output bytes per input byte plus `out_extra`; `sink` receives each reply.
template <typename Sink>
Status in_pieces(Virtine& v, uint32_t op, Handle h, std::span<const uint8_t> data, uint64_t out_per_byte,
                 uint64_t out_extra, Sink sink) {
  const uint64_t room = max_request_input(out_extra) / (1 + out_per_byte);
  do {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
    CryptoRequest r;
    r.op = op;
    r.handle = h;
    r.in = data.first(n);
    r.out_capacity = n * out_per_byte + out_extra;
    MailboxReply reply = CRYPTINE_TRY(request(v, r));
    CRYPTINE_TRY_STATUS(sink(reply));
    data = data.subspan(n);
  } while (!data.empty());
  return {};
}

Result<Handle> new_handle(Virtine& v, const CryptoRequest& r) {
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  if (reply.handle == 0) return v.poison(Error(ErrorCode::kGuestFault, "guest created a context without a handle"));
  return reply.handle;
}

Result<Bytes> final_of(Virtine& v, uint32_t op, Handle h, uint32_t capacity) {
  CryptoRequest r;
  r.op = op;
  r.handle = h;
  r.out_capacity = capacity;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}

Status ignore_output(const CryptoReply&) {
  return {};
}

struct OneShotOps {
  uint32_t whole, init, update, final;
};

// A one-shot digest or MAC: one request when key and data fit, else the same through a
// context (init, updates, final, free), so a long input is split, never truncated.
Result<Bytes> one_shot(Virtine& v, const OneShotOps& ops, std::string_view name, std::span<const uint8_t> key,
                       std::span<const uint8_t> data) {
  CryptoRequest r;
  r.name = name;
  r.key = key;
  if (range_within(key.size(), data.size(), max_request_input(kMaxDigest))) {
    r.op = ops.whole;
    r.in = data;
    r.out_capacity = kMaxDigest;
    MailboxReply reply = CRYPTINE_TRY(request(v, r));
    return copy(reply.out);
  }
  r.op = ops.init;
  const Handle h = CRYPTINE_TRY(new_handle(v, r));
  CRYPTINE_TRY_STATUS(in_pieces(v, ops.update, h, data, 0, 0, ignore_output));
  Bytes out = CRYPTINE_TRY(final_of(v, ops.final, h, kMaxDigest));
  CRYPTINE_TRY_STATUS(free_handle(v, h));
  return out;
}

}  // namespace

Result<Handle> digest_init(Virtine& v, std::string_view md) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_DIGEST_INIT;
  r.name = md;
  return new_handle(v, r);
}

Status digest_update(Virtine& v, Handle h, std::span<const uint8_t> data) {
  return in_pieces(v, CRYPTINE_OP_DIGEST_UPDATE, h, data, 0, 0, ignore_output);
}

Result<Bytes> digest_final(Virtine& v, Handle h) {
  return final_of(v, CRYPTINE_OP_DIGEST_FINAL, h, kMaxDigest);
}

Result<Bytes> digest(Virtine& v, std::string_view md, std::span<const uint8_t> data) {
  return one_shot(v, {CRYPTINE_OP_DIGEST, CRYPTINE_OP_DIGEST_INIT, CRYPTINE_OP_DIGEST_UPDATE, CRYPTINE_OP_DIGEST_FINAL},
                  md, {}, data);
}

Result<Handle> hmac_init(Virtine& v, std::string_view md, std::span<const uint8_t> key) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_MAC_INIT;
  r.name = md;
  r.key = key;
  return new_handle(v, r);
}

Status mac_update(Virtine& v, Handle h, std::span<const uint8_t> data) {
  return in_pieces(v, CRYPTINE_OP_MAC_UPDATE, h, data, 0, 0, ignore_output);
}

Result<Bytes> mac_final(Virtine& v, Handle h, uint64_t capacity) {
  return final_of(v, CRYPTINE_OP_MAC_FINAL, h, static_cast<uint32_t>(std::min<uint64_t>(capacity, kMaxPkeyOutput)));
}

Result<Bytes> hmac(Virtine& v, std::string_view md, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  return one_shot(v, {CRYPTINE_OP_MAC, CRYPTINE_OP_MAC_INIT, CRYPTINE_OP_MAC_UPDATE, CRYPTINE_OP_MAC_FINAL}, md, key,
                  data);
}

Result<Handle> cipher_init(Virtine& v, const CipherInit& init) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_INIT;
  r.handle = init.handle;
  r.name = init.cipher;
  if (init.key != nullptr) r.key = *init.key;
  if (init.iv != nullptr) r.iv = *init.iv;
  r.params[0] = init.enc;
  r.params[1] = (init.key != nullptr ? 1 : 0) | (init.iv != nullptr ? 2 : 0);
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  if (init.handle != 0) return init.handle;
  if (reply.handle == 0) return v.poison(Error(ErrorCode::kGuestFault, "guest created a context without a handle"));
  return reply.handle;
}

Result<Bytes> cipher_update(Virtine& v, Handle h, std::span<const uint8_t> data) {
  Bytes out;
  out.reserve(data.size() + kMaxBlock);
  CRYPTINE_TRY_STATUS(in_pieces(v, CRYPTINE_OP_CIPHER_UPDATE, h, data, 1, kMaxBlock, [&](const CryptoReply& reply) {
    out.insert(out.end(), reply.out.begin(), reply.out.end());
    return Status{};
  }));
  return out;
}

Result<size_t> cipher_update_into(Virtine& v, Handle h, std::span<const uint8_t> data, std::span<uint8_t> out) {
  size_t written = 0;
  CRYPTINE_TRY_STATUS(in_pieces(v, CRYPTINE_OP_CIPHER_UPDATE, h, data, 1, kMaxBlock, [&](const CryptoReply& reply) {
    if (reply.out.size() > out.size() - written)
      return Status(v.poison(Error(ErrorCode::kGuestFault, "cipher update returned more than it may")));
    copy_bulk(out.data() + written, reply.out.data(), reply.out.size());
    written += reply.out.size();
    return Status{};
  }));
  return written;
}

Result<int> cipher_update_in_place(Virtine& v, Handle h, std::span<const uint8_t> data, std::span<uint8_t> buffer) {
  if (data.size() > max_in_place()) return Error(ErrorCode::kOutOfRange, "in-place update larger than one request");
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_UPDATE;
  r.handle = h;
  r.in = data;
  r.out_capacity = data.size() + kMaxBlock;
  r.params[1] = 1;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  const int64_t outl = reply.values[0];
  if (outl < 0 || static_cast<uint64_t>(outl) > reply.out.size() || reply.out.size() > buffer.size())
    return v.poison(Error(ErrorCode::kGuestFault, "in-place update: output outside the buffer"));
  copy_bulk(buffer.data(), reply.out.data(), reply.out.size());
  return static_cast<int>(outl);
}

Result<int> cipher_aad(Virtine& v, Handle h, std::span<const uint8_t> aad) {
  // AAD must arrive in one update for some modes (CCM), so it is never split.
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_UPDATE;
  r.handle = h;
  r.in = aad;
  r.params[0] = 1;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return static_cast<int>(reply.values[0]);
}

Result<Bytes> cipher_final(Virtine& v, Handle h) {
  return final_of(v, CRYPTINE_OP_CIPHER_FINAL, h, kMaxBlock);
}

Result<std::pair<int64_t, Bytes>> cipher_ctrl(Virtine& v, Handle h, int type, int arg, std::span<const uint8_t> in,
                                              uint32_t out_len) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_CTRL;
  r.handle = h;
  r.in = in;
  r.out_capacity = std::max<uint64_t>(out_len, in.size());
  r.params[0] = type;
  r.params[1] = arg;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return std::pair<int64_t, Bytes>{reply.values[0], copy(reply.out.first(std::min<size_t>(out_len, reply.out.size())))};
}

Result<Handle> copy_context(Virtine& v, Handle h) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_CTX_COPY;
  r.handle = h;
  return new_handle(v, r);
}

Status free_handle(Virtine& v, Handle h) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_FREE;
  r.handle = h;
  CRYPTINE_TRY(request(v, r));
  return {};
}

namespace {
// Room for the public part of any key OpenSSL holds (an RSA-16384 SubjectPublicKeyInfo
// is about 2,100 bytes).
constexpr uint32_t kMaxPublicKey = 4096;

Result<KeyInGuest> key_reply(Virtine& v, const CryptoRequest& r, const char* what) {
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  if (reply.handle == 0)
    return v.poison(Error(ErrorCode::kGuestFault, std::string("guest ") + what + " without a handle"));
  return KeyInGuest{ImportedKey{reply.handle, static_cast<int>(reply.values[0]), static_cast<int>(reply.values[2]),
                                static_cast<int>(reply.values[3])},
                    copy(reply.out)};
}
}  // namespace

Result<ImportedKey> import_private_key(Virtine& v, std::span<const uint8_t> der_or_pem) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_KEY_IMPORT;
  r.in = der_or_pem;
  return CRYPTINE_TRY(key_reply(v, r, "imported a key")).key;
}

Result<KeyInGuest> decode_private_key(Virtine& v, std::span<const uint8_t> encoded,
                                      std::span<const uint8_t> passphrase) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_KEY_IMPORT;
  r.in = encoded;
  r.key = passphrase;
  r.out_capacity = kMaxPublicKey;
  return key_reply(v, r, "decoded a key");
}

Result<KeyInGuest> generate_key(Virtine& v, std::string_view type, std::string_view curve, int bits) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_KEY_GENERATE;
  r.name = type;
  r.in = {reinterpret_cast<const uint8_t*>(curve.data()), curve.size()};
  r.out_capacity = kMaxPublicKey;
  r.params[0] = bits;
  return key_reply(v, r, "generated a key");
}

namespace {
Result<MailboxReply> pkey_request(Virtine& v, uint32_t op, Handle key, std::string_view md, std::span<const uint8_t> in,
                                  int64_t p0, int64_t p1) {
  CryptoRequest r;
  r.op = op;
  r.handle = key;
  r.name = md;
  r.in = in;
  r.out_capacity = kMaxPkeyOutput;
  r.params[0] = p0;
  r.params[1] = p1;
  return request(v, r);
}

Result<Bytes> pkey_op(Virtine& v, uint32_t op, Handle key, std::string_view md, std::span<const uint8_t> in, int64_t p0,
                      int64_t p1) {
  MailboxReply reply = CRYPTINE_TRY(pkey_request(v, op, key, md, in, p0, p1));
  return copy(reply.out);
}
}  // namespace

Result<MailboxReply> sign_in_mailbox(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> tbs,
                                     int rsa_padding, int pss_saltlen) {
  return pkey_request(v, CRYPTINE_OP_SIGN, key, md, tbs, rsa_padding, pss_saltlen);
}

Result<MailboxReply> digest_sign_in_mailbox(Virtine& v, Handle key, std::string_view md,
                                            std::span<const uint8_t> message) {
  return pkey_request(v, CRYPTINE_OP_DIGEST_SIGN, key, md, message, 0, 0);
}

Result<Bytes> sign(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> tbs, int rsa_padding,
                   int pss_saltlen) {
  return pkey_op(v, CRYPTINE_OP_SIGN, key, md, tbs, rsa_padding, pss_saltlen);
}

Result<Bytes> decrypt(Virtine& v, Handle key, std::span<const uint8_t> in, int rsa_padding, std::string_view oaep_md) {
  return pkey_op(v, CRYPTINE_OP_DECRYPT, key, oaep_md, in, rsa_padding, 0);
}

Result<Bytes> decrypt(Virtine& v, Handle key, std::span<const uint8_t> in, const DecryptOptions& o) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_DECRYPT;
  r.handle = key;
  r.name = o.oaep_md;
  r.iv = o.label;
  r.in = in;
  r.out_capacity = kMaxPkeyOutput;
  r.params[0] = o.padding;
  r.params[2] = o.mgf1_nid;
  r.params[3] = o.tls_versions;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}

Result<Bytes> derive(Virtine& v, Handle key, std::span<const uint8_t> peer_public_der) {
  return pkey_op(v, CRYPTINE_OP_DERIVE, key, "", peer_public_der, 0, 0);
}

Result<Bytes> digest_sign(Virtine& v, Handle key, std::string_view md, std::span<const uint8_t> message) {
  return pkey_op(v, CRYPTINE_OP_DIGEST_SIGN, key, md, message, 0, 0);
}

namespace {
Result<Bytes> key_op(Virtine& v, uint32_t op, const KeyOp& k, std::span<const uint8_t> in) {
  if (k.key_der.empty()) return Error(ErrorCode::kInvalidArgument, "no private key to send");
  CryptoRequest r;
  r.op = op;
  r.key = k.key_der;
  r.name = k.md;
  r.in = in;
  r.out_capacity = std::min(k.capacity, kMaxPkeyOutput);
  r.params[0] = k.rsa_padding;
  r.params[1] = k.pss_saltlen;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}
}  // namespace

Result<Bytes> sign_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> tbs) {
  return key_op(v, CRYPTINE_OP_SIGN, op, tbs);
}

Result<Bytes> digest_sign_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> message) {
  return key_op(v, CRYPTINE_OP_DIGEST_SIGN, op, message);
}

Result<Bytes> decrypt_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> in) {
  return key_op(v, CRYPTINE_OP_DECRYPT, op, in);
}

Result<Bytes> derive_with(Virtine& v, const KeyOp& op, std::span<const uint8_t> peer_public_der) {
  return key_op(v, CRYPTINE_OP_DERIVE, op, peer_public_der);
}

namespace {
// SET_PARAMS and GET_PARAMS succeed only with OpenSSL's 1 (the guest answers any other
// return as a crypto error), and the provider hands that number to OpenSSL: a guest's
// other number (a 0 with no error queued, a 2 EVP would pass on) is a lie.
Result<int> params_return(Virtine& v, const CryptoReply& reply, const char* op) {
  if (reply.values[0] != 1)
    return v.poison(Error(ErrorCode::kGuestFault,
                          std::string(op) + " succeeded with return value " + std::to_string(reply.values[0])));
  return 1;
}
}  // namespace

Result<int> set_params(Virtine& v, Handle h, const OSSL_PARAM* params) {
  const Bytes wire = CRYPTINE_TRY(encode_params(params));
  CryptoRequest r;
  r.op = CRYPTINE_OP_SET_PARAMS;
  r.handle = h;
  r.in = wire;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return params_return(v, reply, "SET_PARAMS");
}

Result<int> get_params(Virtine& v, Handle h, OSSL_PARAM* params) {
  const Bytes wire = CRYPTINE_TRY(encode_params(params));
  CryptoRequest r;
  r.op = CRYPTINE_OP_GET_PARAMS;
  r.handle = h;
  r.in = wire;
  r.out_capacity = wire.size();
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  const int ret = CRYPTINE_TRY(params_return(v, reply, "GET_PARAMS"));
  // Return sizes within their buffers, among the rest: a program may copy that many bytes.
  Status decoded = decode_get_reply(reply.out, wire, params);
  if (!decoded.ok()) return v.poison(std::move(decoded).error());
  return ret;
}

Result<CipherRaw> cipher_raw(Virtine& v, Handle h, std::span<const uint8_t> in, bool in_null, bool out_null,
                             bool in_place) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER;
  r.handle = h;
  r.in = in;
  r.out_capacity = in.size() + kMaxBlock;
  r.params[0] = in_null ? 1 : 0;
  r.params[1] = out_null ? 1 : 0;
  r.params[2] = in_place ? 1 : 0;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return CipherRaw{static_cast<int>(reply.values[0]), reply.err_code, reply.out, std::move(reply.open)};
}

Result<Handle> mac_new(Virtine& v, std::string_view mac) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_MAC_NEW;
  r.name = mac;
  return new_handle(v, r);
}

Status mac_start(Virtine& v, Handle h, const std::span<const uint8_t>* key, const OSSL_PARAM* params) {
  const Bytes wire = CRYPTINE_TRY(encode_params(params));
  CryptoRequest r;
  r.op = CRYPTINE_OP_MAC_START;
  r.handle = h;
  if (key != nullptr) r.key = *key;
  r.params[1] = key != nullptr ? 1 : 0;
  r.in = wire;
  CRYPTINE_TRY(request(v, r));
  return {};
}

Result<Bytes> mac_run(Virtine& v, Handle h, const MacRun& run) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_MAC_RUN;
  r.handle = h;
  if (run.key != nullptr) r.key = *run.key;
  r.in = run.data;
  r.out_capacity = std::min<uint64_t>(run.final_capacity, kMaxPkeyOutput);
  r.params[0] = run.key != nullptr ? 1 : 0;
  r.params[1] = run.final_capacity > 0 ? 1 : 0;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}

Result<Bytes> kdf_derive(Virtine& v, std::string_view kdf, const OSSL_PARAM* params, uint64_t keylen) {
  const Bytes wire = CRYPTINE_TRY(encode_params(params));
  CryptoRequest r;
  r.op = CRYPTINE_OP_KDF;
  r.name = kdf;
  r.in = wire;
  r.out_capacity = keylen;
  r.params[0] = static_cast<int64_t>(keylen);
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}

Result<Bytes> random_bytes(Virtine& v, uint32_t n) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_RANDOM;
  r.out_capacity = n;
  r.params[0] = n;
  MailboxReply reply = CRYPTINE_TRY(request(v, r));
  return copy(reply.out);
}

Result<BatchReply> cipher_batch(Virtine& v, const CipherBatch& b, std::span<uint8_t> out) {
  CryptoRequest r;
  r.op = CRYPTINE_OP_CIPHER_BATCH;
  r.handle = b.handle;
  r.iv = b.steps;
  r.params[0] = static_cast<int64_t>(b.then);
  if (b.then == BatchThen::kUpdate) {
    r.in = b.in;
    r.out_capacity = b.in.size() + kMaxBlock;
    r.params[1] = b.in_place ? 1 : 0;
    if (b.predict) {
      r.out_capacity += sizeof(cryptine_predicted_final);
      r.params[2] = b.tag;
      r.params[3] = 1;
    }
  } else if (b.then == BatchThen::kFinal) {
    r.out_capacity = kMaxBlock + b.tag;
    r.params[2] = b.tag;
  }
  const MailboxReply raw = CRYPTINE_TRY(call_in_virtine(v, r));
  // Which step failed, as the guest says: only words for the error, never an index used.
  const int64_t step = raw.values[2];
  const std::string where = step >= 0 && static_cast<uint64_t>(step) < CRYPTINE_BATCH_MAX_STEPS + 1u
                                ? " at step " + std::to_string(step + 1) + " of the batch"
                                : "";
  const MailboxReply reply = CRYPTINE_TRY(checked(v, raw, where));
  std::span<const uint8_t> own = reply.out;
  std::optional<PredictedFinal> predicted;
  if (b.then == BatchThen::kUpdate && b.predict) {
    Result<PredictedFinal> p = decode_predicted_final(reply.out, reply.values[3]);
    if (!p.ok()) return v.poison(std::move(p).error());
    predicted = *p;
    own = reply.out.first(reply.out.size() - sizeof(cryptine_predicted_final));
  }
  if (own.size() > out.size()) return v.poison(Error(ErrorCode::kGuestFault, "cipher batch returned more than it may"));
  copy_bulk(out.data(), own.data(), own.size());
  return BatchReply{own.size(), reply.values[0], reply.values[1], predicted ? 0 : reply.values[3], predicted};
}

}  // namespace cryptine::guest
