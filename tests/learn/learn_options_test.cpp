// The --learn options (sensor/app/options.cpp): defaults, values reaching the learner and the
// pipelines, and one-line errors.
#include <gtest/gtest.h>

#include <vector>

#include "app/options.h"

namespace rcptwatch::app {
namespace {

tl::expected<ParsedCommandLine, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "rcptwatch");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(LearnOptions, OffByDefaultWithDocumentedDefaults) {
  auto r = parse({"-r", "x.pcap"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->options.learn);
  EXPECT_FALSE(r->options.pipeline.learn);
  const learn::LearnConfig& c = r->options.learn_config;
  EXPECT_EQ(c.state_dir, "/var/lib/rcptwatch");
  EXPECT_EQ(c.min_messages, 5u);
  EXPECT_EQ(c.min_senders, 2u);
  EXPECT_EQ(c.max_domains, 10'000u);
  EXPECT_EQ(c.flush_interval_usec, 60'000'000);
}

TEST(LearnOptions, ValuesReachTheLearnerAndThePipelines) {
  auto r = parse({"-r", "x.pcap", "--learn", "--state-dir", "/tmp/s", "--learn-min-messages", "9",
                  "--learn-min-senders", "64", "--learn-max-domains", "500", "--learn-flush-interval", "5"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->options.learn);
  EXPECT_TRUE(r->options.pipeline.learn);
  EXPECT_EQ(r->options.pipeline.learn_max_domains, 500u);
  const learn::LearnConfig& c = r->options.learn_config;
  EXPECT_EQ(c.state_dir, "/tmp/s");
  EXPECT_EQ(c.min_messages, 9u);
  EXPECT_EQ(c.min_senders, 64u);
  EXPECT_EQ(c.max_domains, 500u);
  EXPECT_EQ(c.flush_interval_usec, 5'000'000);
}

TEST(LearnOptions, BadValuesAreOneLineErrors) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases{
      {{"--learn-min-senders", "65"}, "--learn-min-senders: at most 64"},
      {{"--learn-min-messages", "0"}, "--learn-min-messages: must be a positive number"},
      {{"--learn-max-domains", "-1"}, "--learn-max-domains: must be a positive number"},
      {{"--learn-max-domains", "2000000"}, "--learn-max-domains: at most 1000000"},
      {{"--learn-flush-interval", "0"}, "--learn-flush-interval: must be a positive number"},
      {{"--state-dir", ""}, "--state-dir: empty path"},
  };
  for (const auto& [extra, want] : cases) {
    std::vector<const char*> args{"-r", "x.pcap", "--learn"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = parse(args);
    ASSERT_FALSE(r) << want;
    EXPECT_EQ(r.error().rfind(want, 0), 0u) << r.error();
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace rcptwatch::app
