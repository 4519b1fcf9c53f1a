// The provider's cipher contract: what a guest may answer, at each boundary (exact fit,
// one past), and every lie the guest could tell about a length, a tag or a pad.
#include "shim/provider/cipher_contract.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>

#include "abi/guest_abi.h"

namespace cryptine::provider {
namespace {

constexpr CipherFacts kCbc{16, 16, 16, 16, 16, EVP_CIPH_CBC_MODE, false, false, 0};
constexpr CipherFacts kCtr{16, 16, 16, 16, 1, EVP_CIPH_CTR_MODE, false, false, 0};
constexpr CipherFacts kGcm{16, 12, 1, 128, 1, EVP_CIPH_GCM_MODE, true, true, 16};

bool lie(const Status& s) {
  return !s.ok() && s.error().code() == ErrorCode::kGuestFault;
}

TEST(CipherContract, UpdateOfABlockModeWritesWholeBlocksUpToInlPlusBlockMinusOne) {
  EXPECT_EQ(update_room(kCbc, 100, false), 115u);
  EXPECT_TRUE(check_update(kCbc, 100, 0, false).ok());  // all held back
  EXPECT_TRUE(check_update(kCbc, 100, 112, false).ok());
  EXPECT_TRUE(lie(check_update(kCbc, 100, 115, false)));  // fits, but not whole blocks
  EXPECT_TRUE(lie(check_update(kCbc, 96, 97, false)));    // one byte claimed past the blocks
  EXPECT_TRUE(lie(check_update(kCbc, 100, 128, false)));  // whole blocks, past the room
  EXPECT_TRUE(lie(check_update(kCbc, 0, 16, false)));
  EXPECT_TRUE(lie(check_update(kCbc, SIZE_MAX - 20, SIZE_MAX, false)));
  EXPECT_EQ(update_room(kCbc, SIZE_MAX - 3, false), SIZE_MAX);  // saturates, never wraps to a small room
}

TEST(CipherContract, UpdateOfAStreamModeWritesExactlyItsInput) {
  EXPECT_EQ(update_room(kCtr, 100, false), 100u);
  EXPECT_TRUE(check_update(kCtr, 100, 100, false).ok());
  EXPECT_TRUE(lie(check_update(kCtr, 100, 99, false)));
  EXPECT_TRUE(lie(check_update(kCtr, 100, 101, false)));
  EXPECT_TRUE(lie(check_update(kGcm, 5, 0, false)));
}

TEST(CipherContract, ATlsRecordIsPaddedToABlockAtMostOrComesBackShorter) {
  EXPECT_TRUE(check_update(kGcm, 40, 16, true).ok());  // explicit IV and tag stripped
  EXPECT_TRUE(check_update(kGcm, 40, 40, true).ok());  // sealed in place
  EXPECT_TRUE(lie(check_update(kGcm, 40, 41, true)));
  EXPECT_EQ(update_room(kCbc, 64, true), 80u);
  EXPECT_TRUE(check_update(kCbc, 64, 20, true).ok());  // opened: padding and MAC stripped
  EXPECT_TRUE(check_update(kCbc, 64, 80, true).ok());  // sealed: padded to a whole block
  EXPECT_TRUE(lie(check_update(kCbc, 64, 81, true)));
}

TEST(CipherContract, AadIsTakenWhole) {
  EXPECT_TRUE(check_aad(13, 13).ok());
  EXPECT_TRUE(lie(check_aad(13, 12)));
  EXPECT_TRUE(lie(check_aad(13, 14)));
  EXPECT_TRUE(lie(check_aad(13, SIZE_MAX)));  // a negative outl
}

TEST(CipherContract, FinalWritesAtMostOneBlockAndNothingForAStreamMode) {
  EXPECT_EQ(final_room(kCbc), 16u);
  EXPECT_TRUE(check_final(kCbc, 16).ok());
  EXPECT_TRUE(check_final(kCbc, 0).ok());
  EXPECT_TRUE(lie(check_final(kCbc, 17)));
  EXPECT_EQ(final_room(kGcm), 0u);
  EXPECT_TRUE(check_final(kGcm, 0).ok());
  EXPECT_TRUE(lie(check_final(kGcm, 1)));
}

TEST(CipherContract, BatchUpdateGivesOutlBytesOrInPlaceTheWholeBuffer) {
  EXPECT_TRUE(check_batch_update(kGcm, 100, 100, 100, false, false).ok());
  EXPECT_TRUE(lie(check_batch_update(kGcm, 100, 99, 100, false, false)));   // fewer bytes than outl
  EXPECT_TRUE(lie(check_batch_update(kGcm, 100, 101, 100, false, false)));  // more than outl
  EXPECT_TRUE(lie(check_batch_update(kGcm, 100, 100, -1, false, false)));
  EXPECT_TRUE(lie(check_batch_update(kGcm, 100, 101, 101, false, false)));  // stream: exactly inl
  EXPECT_TRUE(check_batch_update(kCbc, 100, 112, 112, true, false).ok());
  EXPECT_TRUE(check_batch_update(kCbc, 100, 100, 96, true, false).ok());   // in place: the whole buffer
  EXPECT_TRUE(lie(check_batch_update(kCbc, 100, 101, 96, true, false)));   // one past it
  EXPECT_TRUE(lie(check_batch_update(kCbc, 100, 112, 113, true, false)));  // outl past what came
}

TEST(CipherContract, BatchFinalGivesItsBytesThenATagOfTheLengthAskedOrNone) {
  EXPECT_TRUE(check_final_tag(kGcm, 16, 0, 16, 16).ok());
  EXPECT_TRUE(check_final_tag(kGcm, 0, 0, 0, 16).ok());  // tag not readable: none
  EXPECT_TRUE(lie(check_final_tag(kGcm, 15, 0, 15, 16)));
  EXPECT_TRUE(lie(check_final_tag(kGcm, 17, 0, 17, 16)));
  EXPECT_TRUE(lie(check_final_tag(kGcm, 16, 0, 16, 0)));   // a tag not asked for
  EXPECT_TRUE(lie(check_final_tag(kGcm, 17, 1, 16, 16)));  // a stream final writes nothing
  EXPECT_TRUE(lie(check_final_tag(kGcm, 16, 0, -16, 16)));
  EXPECT_TRUE(lie(check_final_tag(kGcm, 15, 0, 16, 16)));  // bytes and counts disagree
  EXPECT_TRUE(check_final_tag(kCbc, 16, 16, 0, 0).ok());
  EXPECT_TRUE(lie(check_final_tag(kCbc, 17, 17, 0, 0)));
  EXPECT_TRUE(lie(check_final_tag(kCbc, 0, -1, 1, 0)));
}

TEST(CipherContract, APredictedFinalGivesWhatTheFinalMayAndATagOnlyToASeal) {
  EXPECT_TRUE(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 0, 16, 16).ok());  // a seal
  EXPECT_TRUE(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 0, 0, 0).ok());    // an open's verdict
  EXPECT_TRUE(lie(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 0, 16, 0)));   // an open's tag
  EXPECT_TRUE(lie(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 0, 15, 16)));
  EXPECT_TRUE(lie(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 0, 0, 16)));   // a seal without one
  EXPECT_TRUE(lie(check_predicted_final(kGcm, CRYPTINE_PREDICT_OK, 1, 16, 16)));  // a stream final writes nothing
  EXPECT_TRUE(check_predicted_final(kCbc, CRYPTINE_PREDICT_OK, 16, 0, 0).ok());   // a block: exact fit
  EXPECT_TRUE(lie(check_predicted_final(kCbc, CRYPTINE_PREDICT_OK, 17, 0, 0)));   // one past
  EXPECT_TRUE(check_predicted_final(kGcm, CRYPTINE_PREDICT_FAILED, 0, 0, 0).ok());
  EXPECT_TRUE(check_predicted_final(kGcm, CRYPTINE_PREDICT_NONE, 0, 0, 16).ok());
}

TEST(CipherContract, OneShotCipherNeverGivesMoreThanItsInput) {
  EXPECT_TRUE(check_cipher(64, 64, 64, true).ok());
  EXPECT_TRUE(check_cipher(64, 64, 40, false).ok());  // a TLS record: explicit IV and tag stripped
  EXPECT_TRUE(check_cipher(0, 0, 0, false).ok());     // an AEAD's final
  EXPECT_TRUE(lie(check_cipher(64, 65, 64, false)));
  EXPECT_TRUE(lie(check_cipher(64, 64, 65, false)));
  EXPECT_TRUE(lie(check_cipher(64, 0, 0, true)));  // data in and out, outside TLS: all of it
  EXPECT_TRUE(lie(check_cipher(64, 64, 40, true)));
}

TEST(CipherContract, IvLengthsWithinTheCiphersRange) {
  EXPECT_TRUE(ivlen_allowed(kGcm, 1));
  EXPECT_TRUE(ivlen_allowed(kGcm, 128));
  EXPECT_FALSE(ivlen_allowed(kGcm, 0));
  EXPECT_FALSE(ivlen_allowed(kGcm, 129));
  EXPECT_TRUE(ivlen_allowed(kCbc, 16));
  EXPECT_FALSE(ivlen_allowed(kCbc, 15));
}

// One get_ctx_params value as the guest returned it.
struct Reply {
  size_t value = 0;
  unsigned char bytes[32] = {};
  OSSL_PARAM params[2];

  static Reply size_t_param(const char* name, size_t v) {
    Reply r;
    r.value = v;
    r.params[0] = OSSL_PARAM_construct_size_t(name, &r.value);
    r.params[0].return_size = sizeof(size_t);
    r.params[1] = OSSL_PARAM_construct_end();
    return r;
  }
  static Reply octets(const char* name, size_t asked, size_t returned) {
    Reply r;
    r.params[0] = OSSL_PARAM_construct_octet_string(name, r.bytes, asked);
    r.params[0].return_size = returned;
    r.params[1] = OSSL_PARAM_construct_end();
    return r;
  }
};

// What the program's buffer held before: zeros. The context's IV length: the default,
// or `ivlen` (one set, as GCM's may be).
Status check(const CipherFacts& f, Reply r, size_t ivlen = SIZE_MAX) {
  Reply before = r;
  before.value = 0;
  std::memset(before.bytes, 0, sizeof(before.bytes));
  before.params[0].data = r.params[0].data_type == OSSL_PARAM_OCTET_STRING ? static_cast<void*>(before.bytes)
                                                                           : static_cast<void*>(&before.value);
  return check_ctx_values(f, ivlen == SIZE_MAX ? f.ivlen : ivlen, r.params, before.params);
}

TEST(CipherContract, TagIsTheLengthAsked) {
  EXPECT_TRUE(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 16, 16)).ok());
  EXPECT_TRUE(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 16, OSSL_PARAM_UNMODIFIED)).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 16, 15))));
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 12, 16))));
  // A buffer larger than any tag: OpenSSL refuses it, so a tag that fills it is a lie.
  EXPECT_TRUE(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 1, 1)).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 17, 17))));
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 0, 0))));
  EXPECT_TRUE(lie(check(kCbc, Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 16, 16))));  // no AEAD, no tag
}

TEST(CipherContract, TagLengthAndTlsPadWithinTheAead) {
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TAGLEN, 16)).ok());
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TAGLEN, 1)).ok());
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TAGLEN, 0)).ok());  // not set yet
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TAGLEN, 17))));
  EXPECT_TRUE(lie(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TAGLEN, 16))));  // no AEAD
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 16)).ok());
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 0)).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 17))));
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 1u << 20))));
  EXPECT_TRUE(lie(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 16))));
}

TEST(CipherContract, KeyAndIvLengthsPaddingNumAndIvs) {
  EXPECT_TRUE(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_KEYLEN, 16)).ok());
  EXPECT_TRUE(lie(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_KEYLEN, 32))));
  EXPECT_TRUE(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_IVLEN, 128), 128).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_IVLEN, 129), 129)));
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_IVLEN, 16), 12)));  // not the context's
  EXPECT_TRUE(lie(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_IVLEN, 12))));
  EXPECT_TRUE(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_PADDING, 1)).ok());
  EXPECT_TRUE(lie(check(kCbc, Reply::size_t_param(OSSL_CIPHER_PARAM_PADDING, 2))));
  EXPECT_TRUE(check(kCtr, Reply::size_t_param(OSSL_CIPHER_PARAM_NUM, 15)).ok());
  EXPECT_TRUE(lie(check(kCtr, Reply::size_t_param(OSSL_CIPHER_PARAM_NUM, 16))));
  EXPECT_TRUE(check(kCbc, Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 32, 16)).ok());
  EXPECT_TRUE(lie(check(kCbc, Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 32, 17))));
  EXPECT_TRUE(lie(check(kCbc, Reply::octets(OSSL_CIPHER_PARAM_IV, 32, 32))));
  EXPECT_TRUE(lie(check(kCbc, Reply::octets(OSSL_CIPHER_PARAM_IV, 32, 15))));  // the whole IV or nothing
}

// GCM's IV is as long as the context's, which may be anything from 1 to 128 bytes: a
// bound of 128 alone would let a guest hand out 13 bytes for a 12-byte IV.
TEST(CipherContract, AnIvIsExactlyTheContextsIvLength) {
  EXPECT_TRUE(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_IV, 32, 12)).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_IV, 32, 13))));
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 32, 11))));
  EXPECT_TRUE(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 32, 16), 16).ok());
  EXPECT_TRUE(lie(check(kGcm, Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 32, 12), 16)));
}

// OpenSSL's ciphers answer no name outside the contract: one the guest answers is a value
// nobody judged, so it is refused; left unanswered, it is what OpenSSL does.
TEST(CipherContract, ANameOutsideTheContractIsNotAnswered) {
  Reply r = Reply::octets("cryptine-no-such-param", 8, 8);
  EXPECT_TRUE(lie(check(kCbc, r)));
  r.params[0].return_size = OSSL_PARAM_UNMODIFIED;
  EXPECT_TRUE(check(kCbc, r).ok());
  r.bytes[7] = 1;  // written without a size: a lie too
  EXPECT_TRUE(lie(check(kCbc, r)));
  EXPECT_TRUE(lie(check(kGcm, Reply::size_t_param(OSSL_CIPHER_PARAM_BLOCK_SIZE, 1))));  // the host's to answer
}

TEST(CipherContract, AValueLeftUnmodifiedComesBackUnchanged) {
  Reply r = Reply::size_t_param(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, 0);
  r.params[0].return_size = OSSL_PARAM_UNMODIFIED;
  EXPECT_TRUE(check(kCbc, r).ok());  // not the cipher's param: not judged, as it is unchanged
  r.value = 12345;                   // changed all the same: EVP would read it as the pad
  EXPECT_TRUE(lie(check(kGcm, r)));
  Reply tag = Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 16, OSSL_PARAM_UNMODIFIED);
  tag.bytes[0] = 0xa5;  // a tag written without its size, as ChaCha20-Poly1305 does
  EXPECT_TRUE(check(kGcm, tag).ok());
  Reply ivgen = Reply::octets(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN, 1, OSSL_PARAM_UNMODIFIED);
  ivgen.bytes[0] = 0x5a;  // the IV's last byte, written in place as OpenSSL's GCM does (OpenSSH asks)
  EXPECT_TRUE(check(kGcm, ivgen).ok());
  EXPECT_TRUE(lie(check(kCbc, ivgen)));  // only GCM has one
  Reply long_ivgen = Reply::octets(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN, 32, OSSL_PARAM_UNMODIFIED);
  long_ivgen.bytes[11] = 0x5a;  // a buffer longer than the IV: OpenSSL writes the IV's 12 bytes
  EXPECT_TRUE(check(kGcm, long_ivgen).ok());
  long_ivgen.bytes[12] = 0x5a;  // and nothing after them
  EXPECT_TRUE(lie(check(kGcm, long_ivgen)));
  Reply long_tag = Reply::octets(OSSL_CIPHER_PARAM_AEAD_TAG, 17, OSSL_PARAM_UNMODIFIED);
  long_tag.bytes[0] = 0xa5;  // a tag no AEAD gives, written without its size
  EXPECT_TRUE(lie(check(kGcm, long_tag)));
  Reply iv = Reply::octets(OSSL_CIPHER_PARAM_UPDATED_IV, 16, OSSL_PARAM_UNMODIFIED);
  iv.bytes[0] = 0x5a;  // anything else is a lie
  EXPECT_TRUE(lie(check(kCbc, iv)));
}

TEST(CipherContract, ACtrlAnswersOneOrZero) {
  EXPECT_TRUE(check_ctrl_return(1).ok());
  EXPECT_TRUE(check_ctrl_return(0).ok());
  EXPECT_FALSE(check_ctrl_return(42).ok());  // would reach OpenSSH as a success
  EXPECT_FALSE(check_ctrl_return(-1).ok());
}

}  // namespace
}  // namespace cryptine::provider
