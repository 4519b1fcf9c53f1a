// The provider's CRYPTINE_ALGS filter: which algorithms a family offers.
#include "shim/provider/algorithm_filter.h"

#include <gtest/gtest.h>

namespace cryptine::provider {
namespace {

const OSSL_ALGORITHM kAll[] = {{"SHA2-256:SHA-256:SHA256", "provider=cryptine", nullptr, nullptr},
                               {"AES-128-CBC:AES128:2.16.840.1.101.3.4.1.2", "provider=cryptine", nullptr, nullptr},
                               {"ChaCha20-Poly1305", "provider=cryptine", nullptr, nullptr}};

TEST(NamedBy, AnyOfTheNamesInAnyCase) {
  EXPECT_TRUE(named_by("SHA2-256:SHA-256:SHA256", {"sha256"}));
  EXPECT_TRUE(named_by("SHA2-256:SHA-256:SHA256", {"sha2-256"}));
  EXPECT_TRUE(named_by("ChaCha20-Poly1305", {"x", "chacha20-poly1305"}));
  EXPECT_FALSE(named_by("SHA2-256:SHA-256", {"sha2"}));      // a prefix is not a name
  EXPECT_FALSE(named_by("SHA2-256:SHA-256", {"sha-2566"}));  // nor a longer one
  EXPECT_FALSE(named_by("", {"sha256"}));
  EXPECT_FALSE(named_by("SHA2-256", {}));
}

TEST(Offered, NoNamesOffersAllThenTheNullEntry) {
  const auto list = offered(kAll, {});
  ASSERT_EQ(list.size(), 4u);
  EXPECT_STREQ(list[2].algorithm_names, "ChaCha20-Poly1305");
  EXPECT_EQ(list[3].algorithm_names, nullptr);
}

TEST(Offered, OnlyTheNamedOnes) {
  const auto list = offered(kAll, {"aes128", "sha512"});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_STREQ(list[0].algorithm_names, kAll[1].algorithm_names);
  EXPECT_EQ(list[1].algorithm_names, nullptr);
}

TEST(Offered, NoneNamedLeavesTheNullEntryOnly) {
  const auto list = offered(kAll, {"md5"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].algorithm_names, nullptr);
}

}  // namespace
}  // namespace cryptine::provider
