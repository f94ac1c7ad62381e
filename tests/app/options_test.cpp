// Command-line and config-file parsing: every accepted form and one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "app/options.h"

namespace rcptwatch::app {
namespace {

tl::expected<ParsedCommandLine, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "rcptwatch");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(Options, ReadFileWithDefaults) {
  auto r = parse({"-r", "x.pcap"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->action, ParsedCommandLine::Action::Run);
  EXPECT_EQ(r->options.read_file, "x.pcap");
  EXPECT_EQ(r->options.ports, (std::vector<std::uint16_t>{25, 587, 2525}));
  EXPECT_EQ(r->options.pipeline.tracker.server_ports, r->options.ports);
  EXPECT_TRUE(r->options.rule_files.empty());
}

TEST(Options, RepeatableRulesAndLongForms) {
  auto r = parse({"--read", "-", "--rules", "a.rules", "--rules", "b.rules", "--ports", "25,10025",
                  "-v", "-v", "--stats", "--max-flows", "10"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.read_file, "-");
  EXPECT_EQ(r->options.rule_files, (std::vector<std::string>{"a.rules", "b.rules"}));
  EXPECT_EQ(r->options.ports, (std::vector<std::uint16_t>{25, 10025}));
  EXPECT_EQ(r->options.verbosity, 2);
  EXPECT_TRUE(r->options.stats);
  EXPECT_EQ(r->options.pipeline.tracker.max_flows, 10u);
}

TEST(Options, LimitsReachTheStages) {
  auto r = parse({"-r", "x", "--syn-timeout", "5", "--closed-timeout", "2", "--established-timeout",
                  "60", "--fragment-timeout", "7", "--max-fragment-datagrams", "9",
                  "--max-fragment-bytes", "1000", "--max-buffer-per-direction", "4096",
                  "--max-buffer-total", "65536", "--max-line", "512"});
  ASSERT_TRUE(r) << r.error();
  const auto& p = r->options.pipeline;
  EXPECT_EQ(p.tracker.syn_timeout_usec, 5'000'000);
  EXPECT_EQ(p.tracker.closed_timeout_usec, 2'000'000);
  EXPECT_EQ(p.tracker.established_timeout_usec, 60'000'000);
  EXPECT_EQ(p.decoder.fragment_timeout_usec, 7'000'000);
  EXPECT_EQ(p.decoder.max_fragment_datagrams, 9u);
  EXPECT_EQ(p.decoder.max_fragment_bytes, 1000u);
  EXPECT_EQ(p.tracker.max_buffered_bytes_per_direction, 4096u);
  EXPECT_EQ(p.tracker.max_buffered_bytes_total, 65536u);
  EXPECT_EQ(p.smtp.max_line_bytes, 512u);
}

TEST(Options, OutputsFormatsAndDedup) {
  auto r = parse({"-r", "x", "--format", "cef", "--output", "stdout", "--output",
                  "syslog+tcp://127.0.0.1:6514?format=rfc5424", "--dedup-window", "0",
                  "--rate-limit", "30", "--log-envelopes"});
  ASSERT_TRUE(r) << r.error();
  const auto& o = r->options;
  ASSERT_EQ(o.outputs.size(), 2u);
  EXPECT_EQ(o.outputs[0].format, alert::Format::Cef);
  EXPECT_EQ(o.outputs[1].format, alert::Format::Rfc5424);
  EXPECT_EQ(o.outputs[1].port, 6514);
  EXPECT_EQ(o.dedup.window_usec, 0);
  EXPECT_EQ(o.dedup.rate_per_minute, 30u);
  EXPECT_TRUE(o.pipeline.log_envelopes);
}

TEST(Options, HelpAndVersion) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->action, ParsedCommandLine::Action::Help);
  EXPECT_NE(h->help_text.find("--read"), std::string::npos);
  EXPECT_NE(h->help_text.find("Exit status"), std::string::npos);
  auto v = parse({"--version"});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->action, ParsedCommandLine::Action::Version);
}

struct BadCase {
  std::vector<const char*> args;
  const char* expected_fragment;
};

class OptionsErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(OptionsErrors, OneLineNamingTheCause) {
  auto r = parse(GetParam().args);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(GetParam().expected_fragment), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OptionsErrors,
    ::testing::Values(BadCase{{"--bogus"}, "bogus"},
                      BadCase{{}, "nothing to do"},
                      BadCase{{"-r", "a", "-i", "eth0"}, "exclusive"},
                      BadCase{{"-r", "a", "--ports", "25,x"}, "'x'"},
                      BadCase{{"-r", "a", "--ports", "70000"}, "70000"},
                      BadCase{{"-r", "a", "--ports", "0"}, "'0'"},
                      BadCase{{"-r", "a", "--ports", ""}, "--ports"},
                      BadCase{{"-r", "a", "--ports", "25,,587"}, "''"},
                      BadCase{{"-r", "a", "--format", "xml"}, "xml"},
                      BadCase{{"-r", "a", "--output", "ftp://x"}, "ftp://x"},
                      BadCase{{"-r", "a", "--dedup-window", "-1"}, "dedup-window"},
                      BadCase{{"-r", "a", "--syslog-facility", "24"}, "syslog-facility"},
                      BadCase{{"-r", "a", "--syn-timeout", "0"}, "syn-timeout"},
                      BadCase{{"-r", "a", "--max-flows", "0"}, "max-flows"},
                      BadCase{{"-r", "a", "--max-flows", "lots"}, "max-flows"},
                      BadCase{{"-r"}, "read"},
                      BadCase{{"-c", "/nonexistent/rcptwatch.conf"}, "/nonexistent/rcptwatch.conf"}));

TEST(Options, ConfigFileSuppliesOptionsAndCommandLineWins) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("rw-options-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(path) << "# comment\nread = from-config.pcap\nports = 2525\nrules = c.rules\n";
  auto r = parse({"-c", path.c_str(), "--ports", "25"});
  std::filesystem::remove(path);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.read_file, "from-config.pcap");
  EXPECT_EQ(r->options.ports, (std::vector<std::uint16_t>{25}));
  EXPECT_EQ(r->options.rule_files, (std::vector<std::string>{"c.rules"}));
}

TEST(Options, ConfigFileWithUnknownKeyIsRefused) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("rw-options-bad-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(path) << "read = x.pcap\nfrobnicate = 1\n";
  auto r = parse({"-c", path.c_str()});
  std::filesystem::remove(path);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("frobnicate"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace rcptwatch::app
