// A one-shot digest of the SHA-1 or SHA-2 family writes no page of the guest's image (its
// data, its heap): only the mailbox and the stack, so the reset after a call-scoped digest
// copies back no more. EVP_Digest would allocate and free two contexts, writing malloc's
// state and heap pages (crypto-guest/stack_digest.c).
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "abi/hypercall_abi.h"
#include "shim/client/guest_ops.h"
#include "tests/kvm/crypto_guest_fixture.h"

namespace cryptine {
namespace {

using testing_support::CryptoGuest;
using testing_support::random_bytes;

using CryptoOneShotPages = CryptoGuest;

TEST_F(CryptoOneShotPages, AShaDigestWritesNoPageOfTheImage) {
  for (const char* md : {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512"}) {
    v_ = fresh();
    ASSERT_NE(v_, nullptr);
    auto d = guest::digest(*v_, md, random_bytes(16));
    ASSERT_TRUE(d.ok()) << md << ": " << d.error().message();
    const GuestMemoryAccess open;
    const uint64_t size = v_->memory().size();
    auto now = v_->memory().translate(open, GuestAddr{0}, size);
    ASSERT_TRUE(now.ok());
    const uint8_t* clean = (*snapshot_)->memory(open).data();
    std::ostringstream written;
    for (uint64_t page = CRYPTINE_IMAGE_BASE; page < size; page += GuestMemory::kPageSize)
      if (std::memcmp(now->data() + page, clean + page, GuestMemory::kPageSize) != 0)
        written << " 0x" << std::hex << page;
    EXPECT_EQ(written.str(), "") << md << " wrote these pages of the image";
  }
}

}  // namespace
}  // namespace cryptine
