// JSON escaping and alert formatting, checked against hand-written golden strings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "alert/format_json.h"
#include "alert/json_writer.h"
#include "sample_alert.h"

namespace rcptwatch::alert {
namespace {

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

struct EscapeCase {
  std::string input;
  std::string expected;
};

class JsonEscape : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(JsonEscape, MatchesGolden) { EXPECT_EQ(json_quoted(GetParam().input), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonEscape,
    ::testing::Values(EscapeCase{"plain", R"("plain")"},
                      EscapeCase{"a\"b", R"("a\"b")"},
                      EscapeCase{"back\\slash", R"("back\\slash")"},
                      EscapeCase{"cr\r\nlf", R"("cr\r\nlf")"},
                      EscapeCase{"tab\tx", R"("tab\tx")"},
                      EscapeCase{std::string("nul\0x", 5), R"("nul\u0000x")"},
                      EscapeCase{"\x01\x1f\x7f", R"("\u0001\u001f\u007f")"},
                      EscapeCase{"jos\xC3\xA9@ex.com", "\"jos\xC3\xA9@ex.com\""},
                      EscapeCase{"\xD0\xB0rmy.mil", "\"\xD0\xB0rmy.mil\""},      // Cyrillic a
                      EscapeCase{"\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""},    // 4-byte
                      EscapeCase{"bad\xFFx", "\"bad\xEF\xBF\xBDx\""},           // invalid byte
                      EscapeCase{"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},   // overlong '/'
                      EscapeCase{"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},  // surrogate
                      EscapeCase{"cut\xE2\x82", "\"cut\xEF\xBF\xBD\xEF\xBF\xBD\""}));  // truncated

TEST(JsonWriter, NestedObjectsAndScalars) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("a", 1);
  w.key("o");
  w.begin_object();
  w.field("s", "x");
  w.field("n", std::optional<int>{});
  w.field("r", std::optional<int>{250});
  w.end_object();
  w.field("b", true);
  w.field("u", std::uint64_t{18446744073709551615ull});
  w.field("neg", std::int64_t{-5});
  w.end_object();
  EXPECT_EQ(out,
            R"({"a":1,"o":{"s":"x","n":null,"r":250},"b":true,"u":18446744073709551615,"neg":-5})");
}

TEST(JsonWriter, ArraysOfObjectsAndEmptyArrays) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("a");
  w.begin_array();
  w.begin_object();
  w.field("x", 1);
  w.end_object();
  w.begin_object();
  w.field("x", std::optional<int>{});
  w.end_object();
  w.end_array();
  w.key("e");
  w.begin_array();
  w.end_array();
  w.end_object();
  EXPECT_EQ(out, R"({"a":[{"x":1},{"x":null}],"e":[]})");
}

TEST(FormatJson, GoldenAlert) {
  std::string out;
  format_json(sample_alert(), out);
  EXPECT_EQ(out,
            R"({"timestamp":"2023-07-17T08:15:30.123456Z","flow_id":7,"event_type":"alert",)"
            R"("src_ip":"10.99.0.1","src_port":40000,"dest_ip":"10.99.0.2","dest_port":25,)"
            R"("proto":"TCP","app_proto":"smtp","capture":"complete","repeat_count":0,)"
            R"("sensor_name":"","in_iface":"","community_id":"","network":{"direction":"unknown"},)"
            R"("alert":{"signature_id":1,"signature":"Lookalike of \"mil\"","severity":"critical"},)"
            R"("smtp":{"helo":"client.example","mail_from":"alice@example.com",)"
            R"("rcpt_to":"\"john doe\"@army.ml","rcpt_reply":250,"transaction":1},)"
            R"("lookalike":{"domain":"army.ml","domain_unicode":"army.ml","protected":"mil","technique":"tld-omission","distance":1}})");
}

TEST(FormatJson, FleetIdentityAndEvidence) {
  Alert a = sample_alert();
  a.sensor_name = "egress-1";
  a.in_iface = "eth1";
  a.community_id = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
  a.direction = "outbound";
  std::string out;
  format_json(a, out);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["sensor_name"], "egress-1");
  EXPECT_EQ(j["in_iface"], "eth1");
  EXPECT_EQ(j["community_id"], "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  EXPECT_EQ(j["network"]["direction"], "outbound");
  EXPECT_FALSE(j.contains("evidence"));  // only when a file was written
  a.evidence = "7-1689581730123456.pcap";
  out.clear();
  format_json(a, out);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["evidence"], "7-1689581730123456.pcap");
}

TEST(FormatJson, ParsesBackWithNullReplyAndIpv6) {
  Alert a = sample_alert();
  a.rcpt_reply.reset();
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};
  a.dest_ip = IpAddress::v6(v6);
  a.rcpt_to = "bad\xFF@army.ml";
  std::string out;
  format_json(a, out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["smtp"]["rcpt_reply"].is_null());
  EXPECT_EQ(j["dest_ip"], "2001:db8::25");
  EXPECT_EQ(j["smtp"]["rcpt_to"], "bad\xEF\xBF\xBD@army.ml");
  EXPECT_EQ(j["lookalike"]["protected"], "mil");
}

TEST(Rfc3339, FormatsMicrosecondsUtc) {
  EXPECT_EQ(format_rfc3339(Timestamp{0}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(Timestamp{1'000'001}), "1970-01-01T00:00:01.000001Z");
  EXPECT_EQ(format_rfc3339(Timestamp{-1}), "1969-12-31T23:59:59.999999Z");
}

}  // namespace
}  // namespace rcptwatch::alert
