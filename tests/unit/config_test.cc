// The shim's environment parsing: good values, and each bad one named with its default.
#include "shim/client/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace cryptine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Config parse(const std::map<std::string, std::string>& env, std::vector<std::string>* warnings) {
  return parse_config(
      [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      warnings);
}

TEST(Config, DefaultsWithAnEmptyEnvironment) {
  std::vector<std::string> warnings;
  Config c = parse({}, &warnings);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_THAT(c.algs, IsEmpty());
  EXPECT_EQ(c.scope, Scope::kContext);
  EXPECT_EQ(c.pool, 1u);
  EXPECT_EQ(c.timeout_ms, 10000u);
  EXPECT_EQ(c.boot_timeout_ms, 60000u);
  EXPECT_EQ(c.fallback, Fallback::kNative);
  EXPECT_EQ(c.stats, StatsOutput::kNone);
  EXPECT_FALSE(c.log);
  EXPECT_EQ(c.guest, "");
  EXPECT_EQ(c.kvm_device, "/dev/kvm");
}

TEST(Config, GoodValues) {
  std::vector<std::string> warnings;
  Config c = parse({{"CRYPTINE_ALGS", " SHA256, aes-128-gcm ,,HMAC"},
                    {"CRYPTINE_SCOPE", "Thread"},
                    {"CRYPTINE_POOL", "64"},
                    {"CRYPTINE_POOL_MAX", "1024"},
                    {"CRYPTINE_GUEST", "/x/guest.elf"},
                    {"CRYPTINE_TIMEOUT_MS", "1"},
                    {"CRYPTINE_BOOT_TIMEOUT_MS", "3600000"},
                    {"CRYPTINE_FALLBACK", "FAIL"},
                    {"CRYPTINE_STATS", "yes"},
                    {"CRYPTINE_LOG", "1"},
                    {"CRYPTINE_KEY_EXPORT", "1"},
                    {"CRYPTINE_KVM_DEVICE", "/dev/null"}},
                   &warnings);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(c.kvm_device, "/dev/null");
  EXPECT_THAT(c.algs, ElementsAre("sha256", "aes-128-gcm", "hmac"));
  EXPECT_EQ(c.scope, Scope::kThread);
  EXPECT_EQ(c.pool, 64u);
  EXPECT_EQ(c.pool_max, 1024u);
  EXPECT_EQ(c.guest, "/x/guest.elf");
  EXPECT_EQ(c.timeout_ms, 1u);
  EXPECT_EQ(c.boot_timeout_ms, 3600000u);
  EXPECT_EQ(c.fallback, Fallback::kFail);
  EXPECT_EQ(c.stats, StatsOutput::kLine);
  EXPECT_TRUE(c.log);
  EXPECT_TRUE(c.key_export);
  EXPECT_THAT(parse({{"CRYPTINE_ALGS", "ALL"}}, &warnings).algs, IsEmpty());
}

TEST(Config, EachBadValueWarnsOnceAndKeepsTheDefault) {
  std::vector<std::string> warnings;
  Config c = parse({{"CRYPTINE_ALGS", " , ,"},
                    {"CRYPTINE_SCOPE", "process"},
                    {"CRYPTINE_POOL", "65"},
                    {"CRYPTINE_TIMEOUT_MS", "0"},
                    {"CRYPTINE_BOOT_TIMEOUT_MS", "3600001"},
                    {"CRYPTINE_FALLBACK", "maybe"},
                    {"CRYPTINE_STATS", "2"},
                    {"CRYPTINE_LOG", "loud"},
                    {"CRYPTINE_KEY_EXPORT", "out"}},
                   &warnings);
  ASSERT_EQ(warnings.size(), 9u);
  EXPECT_THAT(warnings[0], HasSubstr("CRYPTINE_ALGS=' , ,' is not understood; using all"));
  EXPECT_THAT(warnings[1], HasSubstr("CRYPTINE_SCOPE='process'"));
  EXPECT_THAT(warnings[2], HasSubstr("CRYPTINE_POOL='65'"));
  EXPECT_THAT(warnings[3], HasSubstr("CRYPTINE_TIMEOUT_MS='0'"));
  EXPECT_THAT(warnings[4], HasSubstr("CRYPTINE_BOOT_TIMEOUT_MS='3600001' is not understood; using 60000"));
  EXPECT_THAT(warnings[5], HasSubstr("using native"));
  EXPECT_EQ(c.scope, Scope::kContext);
  EXPECT_EQ(c.pool, 1u);
  EXPECT_EQ(c.timeout_ms, 10000u);
  EXPECT_EQ(c.boot_timeout_ms, 60000u);
  EXPECT_EQ(c.fallback, Fallback::kNative);
  EXPECT_EQ(c.stats, StatsOutput::kNone);
  EXPECT_THAT(warnings[8], HasSubstr("CRYPTINE_KEY_EXPORT='out' is not understood; using 0"));
  EXPECT_FALSE(c.key_export);
}

TEST(Config, StatsAsJsonAndToAFile) {
  std::vector<std::string> warnings;
  Config c =
      parse({{"CRYPTINE_STATS", "JSON"}, {"CRYPTINE_STATS_FILE", "/run/x-%p.prom"}, {"CRYPTINE_STATS_INTERVAL", "0"}},
            &warnings);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(c.stats, StatsOutput::kJson);
  EXPECT_EQ(c.stats_file, "/run/x-%p.prom");
  EXPECT_EQ(c.stats_interval_s, 0u);
  c = parse({{"CRYPTINE_STATS_INTERVAL", "86401"}}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("CRYPTINE_STATS_INTERVAL='86401' is not understood; using 10"));
  EXPECT_EQ(c.stats_interval_s, 10u);
  EXPECT_EQ(c.stats_file, "");
}

TEST(Config, KvmExitsCountedOnlyWhenAsked) {
  std::vector<std::string> warnings;
  EXPECT_FALSE(parse({}, &warnings).stats_kvm_exits);
  EXPECT_TRUE(parse({{"CRYPTINE_STATS_KVM_EXITS", "1"}}, &warnings).stats_kvm_exits);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_FALSE(parse({{"CRYPTINE_STATS_KVM_EXITS", "maybe"}}, &warnings).stats_kvm_exits);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("CRYPTINE_STATS_KVM_EXITS='maybe' is not understood; using 0"));
}

TEST(Config, ThePoolsMaximumIsAtLeastItsMinimum) {
  std::vector<std::string> warnings;
  Config c = parse({{"CRYPTINE_POOL", "8"}, {"CRYPTINE_POOL_MAX", "4"}}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("CRYPTINE_POOL_MAX='4' is not understood; using 64"));
  EXPECT_EQ(c.pool, 8u);
  EXPECT_EQ(c.pool_max, 64u);
  warnings.clear();
  c = parse({{"CRYPTINE_POOL", "0"}, {"CRYPTINE_POOL_MAX", "0"}}, &warnings);
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ(c.pool_max, 0u);  // no pool at all: every call creates its virtine
  EXPECT_EQ(parse({}, &warnings).pool_max, 64u);
}

// "call" used to parse and change nothing: now it says so and keeps the default.
TEST(Config, CallIsNoLongerAScope) {
  std::vector<std::string> warnings;
  Config c = parse({{"CRYPTINE_SCOPE", "call"}}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("CRYPTINE_SCOPE=call is not a scope"));
  EXPECT_EQ(c.scope, Scope::kContext);
}

TEST(Config, NumbersAreStrict) {
  for (const char* bad : {"", "-1", "+3", "3 ", "0x10", "1e3", "99999999999999999999999"}) {
    std::vector<std::string> warnings;
    Config c = parse({{"CRYPTINE_POOL", bad}}, &warnings);
    EXPECT_EQ(warnings.size(), 1u) << "'" << bad << "'";
    EXPECT_EQ(c.pool, 1u);
  }
}

}  // namespace
}  // namespace cryptine
