// --output URI parsing: every accepted form and one-line errors for the malformed ones.
#include <gtest/gtest.h>

#include "alert/output_spec.h"

namespace rcptwatch::alert {
namespace {

struct GoodCase {
  const char* uri;
  OutputKind kind;
  const char* path;
  const char* host;
  std::uint16_t port;
  Format format;
};

class OutputSpecGood : public ::testing::TestWithParam<GoodCase> {};

TEST_P(OutputSpecGood, Parses) {
  const GoodCase& c = GetParam();
  auto spec = parse_output_spec(c.uri, Format::Json);
  ASSERT_TRUE(spec.has_value()) << spec.error();
  EXPECT_EQ(spec->kind, c.kind);
  EXPECT_EQ(spec->path, c.path);
  EXPECT_EQ(spec->host, c.host);
  EXPECT_EQ(spec->port, c.port);
  EXPECT_EQ(spec->format, c.format);
  EXPECT_EQ(spec->uri, c.uri);
}

INSTANTIATE_TEST_SUITE_P(
    All, OutputSpecGood,
    ::testing::Values(
        GoodCase{"stdout", OutputKind::Stdout, "", "", 0, Format::Json},
        GoodCase{"-", OutputKind::Stdout, "", "", 0, Format::Json},
        GoodCase{"stdout?format=cef", OutputKind::Stdout, "", "", 0, Format::Cef},
        GoodCase{"file:/var/log/rcptwatch.json", OutputKind::File, "/var/log/rcptwatch.json", "", 0,
                 Format::Json},
        GoodCase{"file:alerts.log", OutputKind::File, "alerts.log", "", 0, Format::Json},
        GoodCase{"file:///tmp/a.log?format=leef", OutputKind::File, "/tmp/a.log", "", 0, Format::Leef},
        GoodCase{"file:/tmp/odd?name", OutputKind::File, "/tmp/odd?name", "", 0, Format::Json},
        GoodCase{"syslog+udp://127.0.0.1:514", OutputKind::SyslogUdp, "", "127.0.0.1", 514,
                 Format::Json},
        GoodCase{"syslog+udp://127.0.0.1:514?format=rfc5424", OutputKind::SyslogUdp, "",
                 "127.0.0.1", 514, Format::Rfc5424},
        GoodCase{"syslog+tcp://[::1]:6514", OutputKind::SyslogTcp, "", "::1", 6514, Format::Json},
        GoodCase{"syslog+tcp://[2001:db8::1]:1?format=rfc3164", OutputKind::SyslogTcp, "",
                 "2001:db8::1", 1, Format::Rfc3164},
        GoodCase{"syslog+tcp://siem.example.com:65535/", OutputKind::SyslogTcp, "",
                 "siem.example.com", 65535, Format::Json},
        GoodCase{"syslog+tcp://localhost:514", OutputKind::SyslogTcp, "", "localhost", 514,
                 Format::Json},
        GoodCase{"syslog+unix:///dev/log", OutputKind::SyslogUnix, "/dev/log", "", 0, Format::Json},
        GoodCase{"syslog+unix:///run/x.sock?format=rfc3164", OutputKind::SyslogUnix,
                 "/run/x.sock", "", 0, Format::Rfc3164}));

TEST(OutputSpec, DefaultFormatApplies) {
  auto spec = parse_output_spec("syslog+udp://10.0.0.1:514", Format::Cef);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->format, Format::Cef);
}

struct BadCase {
  const char* uri;
  const char* reason;  // a fragment of the error
};

class OutputSpecBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(OutputSpecBad, RejectsWithOneLineError) {
  const BadCase& c = GetParam();
  auto spec = parse_output_spec(c.uri, Format::Json);
  ASSERT_FALSE(spec.has_value()) << c.uri;
  EXPECT_NE(spec.error().find(c.reason), std::string::npos) << spec.error();
  EXPECT_NE(spec.error().find(c.uri), std::string::npos) << spec.error();
  EXPECT_EQ(spec.error().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    All, OutputSpecBad,
    ::testing::Values(BadCase{"", "expected stdout"},
                      BadCase{"stdou", "expected stdout"},
                      BadCase{"STDOUT", "expected stdout"},
                      BadCase{"syslog://1.2.3.4:514", "expected stdout"},
                      BadCase{"udp://1.2.3.4:514", "expected stdout"},
                      BadCase{"file:", "missing file path"},
                      BadCase{"stdout?format=xml", "unknown format"},
                      BadCase{"stdout?format=", "unknown format"},
                      BadCase{"stdout?fmt=json", "unknown option"},
                      BadCase{"syslog+udp://", "missing host:port"},
                      BadCase{"syslog+udp://1.2.3.4", "missing ':PORT'"},
                      BadCase{"syslog+udp://1.2.3.4:", "missing port"},
                      BadCase{"syslog+udp://:514", "missing host"},
                      BadCase{"syslog+udp://1.2.3.4:0", "1 to 65535"},
                      BadCase{"syslog+udp://1.2.3.4:65536", "1 to 65535"},
                      BadCase{"syslog+udp://1.2.3.4:51x", "1 to 65535"},
                      BadCase{"syslog+udp://1.2.3.4:-1", "1 to 65535"},
                      BadCase{"syslog+tcp://::1:514", "brackets"},
                      BadCase{"syslog+tcp://[::1:514", "missing ']'"},
                      BadCase{"syslog+tcp://[::1]", "missing ':PORT' after ']'"},
                      BadCase{"syslog+tcp://[::1]514", "missing ':PORT' after ']'"},
                      BadCase{"syslog+tcp://[]:514", "not an IPv6 address"},
                      BadCase{"syslog+tcp://[1.2.3.4]:514", "not an IPv6 address"},
                      BadCase{"syslog+tcp://bad host:514", "not a valid host name"},
                      BadCase{"syslog+tcp://a..b:514", "not a valid host name"},
                      BadCase{"syslog+tcp://host/x:514", "not a valid host name"},
                      BadCase{"syslog+unix://dev/log", "must be absolute"},
                      BadCase{"syslog+unix://", "must be absolute"}));

TEST(OutputSpec, UnixPathTooLong) {
  const std::string uri = "syslog+unix:///" + std::string(120, 'a');
  auto spec = parse_output_spec(uri, Format::Json);
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().find("longer than 107"), std::string::npos);
}

}  // namespace
}  // namespace rcptwatch::alert
