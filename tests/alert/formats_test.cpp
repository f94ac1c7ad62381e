// Syslog, CEF and LEEF formatting against hand-checked golden strings, every escaping rule,
// non-ASCII recipients and the size limit.
#include <gtest/gtest.h>

#include "alert/formats.h"
#include "sample_alert.h"

namespace rcptwatch::alert {
namespace {

FormatContext context() {
  FormatContext c;
  c.hostname = "sensor1";
  c.pid = 4242;
  c.version = "0.1.0";
  c.facility = 16;
  return c;
}

std::string render(Format f, const Alert& a, const FormatContext& c = context()) {
  std::string out;
  format_alert(f, a, c, out);
  return out;
}

TEST(Formats, ParseNames) {
  EXPECT_EQ(*parse_format("json"), Format::Json);
  EXPECT_EQ(*parse_format("rfc5424"), Format::Rfc5424);
  EXPECT_EQ(*parse_format("rfc3164"), Format::Rfc3164);
  EXPECT_EQ(*parse_format("cef"), Format::Cef);
  EXPECT_EQ(*parse_format("leef"), Format::Leef);
  EXPECT_FALSE(parse_format("JSON"));
  EXPECT_FALSE(parse_format(""));
  EXPECT_NE(parse_format("xml").error().find("xml"), std::string::npos);
}

TEST(Formats, SeverityMappingIsConsistent) {
  EXPECT_EQ(syslog_severity(Severity::Critical), 2);
  EXPECT_EQ(syslog_severity(Severity::High), 3);
  EXPECT_EQ(syslog_severity(Severity::Medium), 4);
  EXPECT_EQ(syslog_severity(Severity::Low), 5);
  EXPECT_EQ(cef_severity(Severity::Critical), 10);
  EXPECT_EQ(cef_severity(Severity::High), 8);
  EXPECT_EQ(cef_severity(Severity::Medium), 5);
  EXPECT_EQ(cef_severity(Severity::Low), 3);
}

TEST(Formats, Rfc5424Golden) {
  EXPECT_EQ(render(Format::Rfc5424, sample_alert()),
            "<130>1 2023-07-17T08:15:30.123456Z sensor1 rcptwatch 4242 LOOKALIKE "
            "[rcptwatch@32473 sid=\"1\" severity=\"critical\" src=\"10.99.0.1\" spt=\"40000\" "
            "dst=\"10.99.0.2\" dpt=\"25\" helo=\"client.example\" mailFrom=\"alice@example.com\" "
            "rcptTo=\"\\\"john doe\\\"@army.ml\" rcptReply=\"250\" domain=\"army.ml\" "
            "protected=\"mil\" technique=\"tld-omission\" distance=\"1\" capture=\"complete\" "
            "flowId=\"7\" repeatCount=\"0\"] \xEF\xBB\xBFlookalike recipient \"john doe\"@army.ml (army.ml imitates "
            "mil by tld-omission) from alice@example.com");
}

TEST(Formats, Rfc5424EscapesQuoteBackslashBracket) {
  std::string out;
  append_sd_param_value(out, R"(a"b\c]d[e)");
  EXPECT_EQ(out, R"(a\"b\\c\]d[e)");
}

TEST(Formats, Rfc3164Golden) {
  Alert a = sample_alert();
  a.mail_from = "";
  a.rcpt_reply.reset();
  EXPECT_EQ(render(Format::Rfc3164, a),
            "<130>Jul 17 08:15:30 sensor1 rcptwatch[4242]: lookalike recipient \"john doe\"@army.ml "
            "(army.ml imitates mil by tld-omission) from <> sid=1 src=10.99.0.1 dst=10.99.0.2");
}

TEST(Formats, Rfc3164KeepsOneLine) {
  Alert a = sample_alert();
  a.rcpt_to = "x\r\ny@army.ml";
  EXPECT_EQ(render(Format::Rfc3164, a).find_first_of("\r\n"), std::string::npos);
}

TEST(Formats, CefGolden) {
  Alert a = sample_alert();
  a.signature = "Lookalike|of\\mil";
  a.helo = "a=b";
  EXPECT_EQ(render(Format::Cef, a),
            "CEF:0|rcptwatch|rcptwatch|0.1.0|1|Lookalike\\|of\\\\mil|10|rt=1689581730123 "
            "src=10.99.0.1 spt=40000 dst=10.99.0.2 dpt=25 proto=TCP app=smtp "
            "suser=alice@example.com duser=\"john doe\"@army.ml act=alert "
            "msg=lookalike recipient \"john doe\"@army.ml (army.ml imitates mil by tld-omission) "
            "from alice@example.com cs1Label=lookalikeDomain cs1=army.ml "
            "cs2Label=protectedDomain cs2=mil cs3Label=technique cs3=tld-omission "
            "cs4Label=helo cs4=a\\=b cs5Label=capture cs5=complete cs6Label=rcptReply cs6=250 "
            "cn1Label=distance cn1=1 cn2Label=flowId cn2=7 cnt=1");
}

TEST(Formats, CefEscapes) {
  std::string header;
  append_cef_header(header, "a|b\\c=d");
  EXPECT_EQ(header, "a\\|b\\\\c=d");
  std::string value;
  append_cef_value(value, "a|b\\c=d\r\ne");
  EXPECT_EQ(value, "a|b\\\\c\\=d\\r\\ne");
}

TEST(Formats, LeefGolden) {
  Alert a = sample_alert();
  a.rcpt_to = "tab\there^x@army.ml";
  EXPECT_EQ(render(Format::Leef, a),
            "LEEF:2.0|rcptwatch|rcptwatch|0.1.0|LOOKALIKE|^|"
            "devTime=2023-07-17T08:15:30.123456Z^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSSSSX^"
            "cat=lookalike-recipient^sev=10^src=10.99.0.1^srcPort=40000^dst=10.99.0.2^"
            "dstPort=25^proto=TCP^usrName=alice@example.com^sender=alice@example.com^"
            "recipient=tab here x@army.ml^rcptReply=250^helo=client.example^sid=1^"
            "signature=Lookalike of \"mil\"^lookalikeDomain=army.ml^protectedDomain=mil^"
            "technique=tld-omission^distance=1^capture=complete^flowId=7^repeatCount=0");
}

TEST(Formats, NonAsciiRecipientSurvivesEveryFormat) {
  Alert a = sample_alert();
  a.rcpt_to = "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD@\xD0\xB0rmy.mil";  // Cyrillic
  for (Format f : {Format::Json, Format::Rfc5424, Format::Rfc3164, Format::Cef, Format::Leef}) {
    EXPECT_NE(render(f, a).find(a.rcpt_to), std::string::npos) << to_string(f);
  }
}

class SizeLimit : public ::testing::TestWithParam<Format> {};

TEST_P(SizeLimit, LongFieldsAreCutWithAMarkToFit) {
  Alert a = sample_alert();
  a.rcpt_to = std::string(20000, 'x') + "@army.ml";
  a.helo = std::string(5000, 'h');
  FormatContext c = context();
  c.max_bytes = 1024;
  const std::string out = render(GetParam(), a, c);
  EXPECT_LE(out.size(), 1024u);
  EXPECT_NE(out.find("[...]"), std::string::npos);
  EXPECT_NE(out.find("army.ml"), std::string::npos);  // the lookalike domain field survives
}

TEST_P(SizeLimit, ShortAlertsAreUntouched) {
  const std::string out = render(GetParam(), sample_alert());
  EXPECT_EQ(out.find("[...]"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(All, SizeLimit,
                         ::testing::Values(Format::Json, Format::Rfc5424, Format::Rfc3164,
                                           Format::Cef, Format::Leef));

}  // namespace
}  // namespace rcptwatch::alert
