#include "shim/provider/key_decoder.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/proverr.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "shim/client/virtine_call.h"
#include "shim/provider/held_input.h"
#include "shim/provider/key_data.h"
#include "shim/provider/keymgmt.h"
#include "shim/provider/native_delegate.h"

namespace cryptine::provider {
namespace {

OSSL_FUNC_BIO_gets_fn* g_bio_gets = nullptr;

// An encoding longer than this is not a key cryptine takes (an RSA-16384 key in PEM is
// about 13 KiB).
constexpr size_t kMaxEncoding = 256 * 1024;

struct PemBlock {
  HeldInput text;  // from its BEGIN line to its END line, both included
  std::string label;
  bool encrypted = false;
};

bool starts_with(std::string_view line, std::string_view prefix) {
  return line.substr(0, prefix.size()) == prefix;
}

// The next PEM block from `in`, read as PEM_read_bio reads one (lines before its BEGIN
// skipped). False at the end of input, or for a block that is cut short or too long.
bool read_pem_block(OSSL_CORE_BIO* in, PemBlock* block) {
  char line[1024];
  bool begun = false;
  bool done = false;
  while (!done) {
    const int n = g_bio_gets(in, line, sizeof(line));
    if (n <= 0) break;
    std::string_view l(line, static_cast<size_t>(n));
    if (!begun) {
      if (!starts_with(l, "-----BEGIN ")) continue;
      const size_t end = l.find("-----", 11);
      if (end == std::string_view::npos) continue;
      block->label.assign(l.substr(11, end - 11));
      begun = true;
    } else if (starts_with(l, "-----END ")) {
      done = true;
    } else if (starts_with(l, "Proc-Type: 4,ENCRYPTED")) {
      block->encrypted = true;
    }
    if (block->text.size() + l.size() > kMaxEncoding) break;
    block->text.append({reinterpret_cast<const uint8_t*>(l.data()), l.size()});
  }
  OPENSSL_cleanse(line, sizeof(line));
  if (block->label == "ENCRYPTED PRIVATE KEY") block->encrypted = true;
  return done;
}

bool is_private_key_label(const std::string& label) {
  return label == "PRIVATE KEY" || label == "ENCRYPTED PRIVATE KEY" || label == "RSA PRIVATE KEY" ||
         label == "EC PRIVATE KEY";
}

// Selection 0 is OSSL_STORE's (the openssl tools' -key and -inkey): its constructor would
// hand a reference to the default provider's load, so the block goes on as it came, as a
// private key's data. The store then decodes it with the selection it expects (a private
// key: this decoder again, with a reference its constructor can take; anything else: the
// default provider's decoders, after this one).
int pass_on_unread(const PemBlock& block, OSSL_CALLBACK* data_cb, void* data_cbarg) {
  int object_type = OSSL_OBJECT_PKEY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
      OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, const_cast<uint8_t*>(block.text.bytes().data()),
                                        block.text.size()),
      OSSL_PARAM_construct_end()};
  return data_cb(params, data_cbarg);
}

void* newctx(void*) {
  static int ctx;  // the decoder keeps no state between calls
  return &ctx;
}

void freectx(void*) {}

int decode(void*, OSSL_CORE_BIO* in, int selection, OSSL_CALLBACK* data_cb, void* data_cbarg,
           OSSL_PASSPHRASE_CALLBACK* pw_cb, void* pw_cbarg) {
  return no_throw(0, [&]() -> int {
    // Returning 1 without calling data_cb leaves the input to the next decoder, which
    // OpenSSL has read from where this one started.
    if (t_in_native > 0 || g_bio_gets == nullptr) return 1;
    const bool private_selected = (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
    if (!private_selected && selection != 0) return 1;
    PemBlock block;
    if (!read_pem_block(in, &block) || !is_private_key_label(block.label)) return 1;
    if (!private_selected) return pass_on_unread(block, data_cb, data_cbarg);
    HeldInput pass;
    if (block.encrypted) {
      char buf[PEM_BUFSIZE];
      size_t len = 0;
      const bool got = pw_cb != nullptr && pw_cb(buf, sizeof(buf), &len, nullptr, pw_cbarg) != 0;
      pass.append({reinterpret_cast<const uint8_t*>(buf), got ? len : 0});
      OPENSSL_cleanse(buf, sizeof(buf));
      if (!got) {
        ERR_raise(ERR_LIB_PROV, PROV_R_UNABLE_TO_GET_PASSPHRASE);
        return 0;
      }
    }
    std::unique_ptr<KeyData> kd;
    if (!decode_key(block.text.bytes(), pass.bytes(), &kd)) return 0;
    if (kd == nullptr) return 1;
    // The key goes to the keymgmt's load (keymgmt.cc) by reference; what load did not
    // take (the chain's constructor failed) is freed here.
    int object_type = OSSL_OBJECT_PKEY;
    KeyData* ref = kd.release();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, const_cast<char*>(key_type_name(ref->kind)), 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref, sizeof(ref)), OSSL_PARAM_construct_end()};
    const int r = data_cb(params, data_cbarg);
    delete ref;
    return r;
  });
}

// OpenSSL asks a decoder to export its object only when the key management it found is
// another provider's: the key cannot leave its virtine.
int export_object(void*, const void*, size_t, OSSL_CALLBACK*, void*) {
  ERR_raise_data(ERR_LIB_PROV, ERR_R_UNSUPPORTED, "cryptine: a key decoded in a virtine stays in it");
  return 0;
}

using Fn = void (*)(void);
const OSSL_DISPATCH kFunctions[] = {{OSSL_FUNC_DECODER_NEWCTX, reinterpret_cast<Fn>(&newctx)},
                                    {OSSL_FUNC_DECODER_FREECTX, reinterpret_cast<Fn>(&freectx)},
                                    {OSSL_FUNC_DECODER_DECODE, reinterpret_cast<Fn>(&decode)},
                                    {OSSL_FUNC_DECODER_EXPORT_OBJECT, reinterpret_cast<Fn>(&export_object)},
                                    {0, nullptr}};

const OSSL_ALGORITHM kAlgorithms[] = {
    {"PEM", "provider=cryptine,input=PEM", kFunctions, "private keys in PEM, decoded in cryptine virtines"},
    {nullptr, nullptr, nullptr, nullptr}};

}  // namespace

const OSSL_ALGORITHM* decoder_algorithms() {
  static const bool any = keymgmt_offers(KeyKind::kRsa) || keymgmt_offers(KeyKind::kEc) ||
                          keymgmt_offers(KeyKind::kEd25519) || keymgmt_offers(KeyKind::kX25519);
  return any ? kAlgorithms : &kAlgorithms[1];
}

void take_core_bio_functions(const OSSL_DISPATCH* core) {
  for (; core != nullptr && core->function_id != 0; ++core)
    if (core->function_id == OSSL_FUNC_BIO_GETS) g_bio_gets = OSSL_FUNC_BIO_gets(core);
}

}  // namespace cryptine::provider
