// The counters' three renderings, the stats file's path and its atomic write.
#include "shim/client/stats_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace cryptine {
namespace {

using ::testing::HasSubstr;

const std::vector<StatValue> kStats = {{"virtine_calls", 42, "Calls served."}, {"failed", 0, "Calls that failed."}};

TEST(StatsOutput, TheLineIsWhatTheTestsAndBenchmarksParse) {
  EXPECT_EQ(stats_line(kStats), "cryptine stats: virtine_calls=42 failed=0\n");
}

TEST(StatsOutput, JsonIsOneObject) {
  EXPECT_EQ(stats_json(kStats), "{\"virtine_calls\":42,\"failed\":0}\n");
}

TEST(StatsOutput, PrometheusHasHelpTypeAndAPidLabelForEachCounter) {
  EXPECT_EQ(stats_prometheus(kStats, 1234),
            "# HELP cryptine_virtine_calls_total Calls served.\n"
            "# TYPE cryptine_virtine_calls_total counter\n"
            "cryptine_virtine_calls_total{pid=\"1234\"} 42\n"
            "# HELP cryptine_failed_total Calls that failed.\n"
            "# TYPE cryptine_failed_total counter\n"
            "cryptine_failed_total{pid=\"1234\"} 0\n");
}

TEST(StatsOutput, PercentPIsThePid) {
  EXPECT_EQ(expand_stats_path("/run/cryptine/nginx-%p.prom", 77), "/run/cryptine/nginx-77.prom");
  EXPECT_EQ(expand_stats_path("/x/%p-%p", 5), "/x/5-5");
  EXPECT_EQ(expand_stats_path("/x/100%%-%q%", 5), "/x/100%-%q%");
  EXPECT_EQ(expand_stats_path("/plain", 5), "/plain");
}

TEST(StatsOutput, TheFileIsReplacedWholeAndNoTemporaryIsLeft) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("stats-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "stats.prom").string();
  ASSERT_TRUE(write_file_atomically(path, "first, and longer\n").ok());
  ASSERT_TRUE(write_file_atomically(path, "second\n").ok());
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "second\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1) << "a temporary file was left";
  auto missing = write_file_atomically((dir / "no-such-dir" / "stats.prom").string(), "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message(), HasSubstr("no-such-dir"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cryptine
