// Table-driven tests of the pure SMTP grammar helpers (smtp/parse.h): commands, MAIL/RCPT
// paths with every accepted quirk and every rejected form, BDAT, reply lines, EHLO keywords.
#include "smtp/parse.h"

#include <gtest/gtest.h>

#include <string>

namespace rcptwatch::smtp {
namespace {

struct CommandCase {
  std::string line;
  Verb verb;
  std::string argument;
};

class CommandTest : public ::testing::TestWithParam<CommandCase> {};

TEST_P(CommandTest, Parses) {
  const auto& c = GetParam();
  const Command cmd = parse_command(c.line);
  EXPECT_EQ(cmd.verb, c.verb) << c.line;
  EXPECT_EQ(cmd.argument, c.argument) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Commands, CommandTest,
    ::testing::Values(CommandCase{"MAIL FROM:<a@b>", Verb::Mail, "FROM:<a@b>"},
                      CommandCase{"mail from:<a@b>", Verb::Mail, "from:<a@b>"},
                      CommandCase{"rCpT TO:<x@y>  ", Verb::Rcpt, "TO:<x@y>"},
                      CommandCase{"EHLO client.example", Verb::Ehlo, "client.example"},
                      CommandCase{"helo x", Verb::Helo, "x"},
                      CommandCase{"LHLO lmtp.example", Verb::Lhlo, "lmtp.example"},
                      CommandCase{"DATA", Verb::Data, ""},
                      CommandCase{"data \t", Verb::Data, ""},
                      CommandCase{"BDAT 10 LAST", Verb::Bdat, "10 LAST"},
                      CommandCase{"RSET", Verb::Rset, ""},
                      CommandCase{"NOOP", Verb::Noop, ""},
                      CommandCase{"  NOOP", Verb::Noop, ""},
                      CommandCase{"QUIT", Verb::Quit, ""},
                      CommandCase{"StartTLS", Verb::Starttls, ""},
                      CommandCase{"AUTH LOGIN", Verb::Auth, "LOGIN"},
                      CommandCase{"VRFY bob", Verb::Vrfy, "bob"},
                      CommandCase{"EXPN list", Verb::Expn, "list"},
                      CommandCase{"HELP", Verb::Help, ""},
                      // negatives: not a known verb
                      CommandCase{"XCLIENT NAME=x", Verb::Unknown, "NAME=x"},
                      CommandCase{"", Verb::Unknown, ""},
                      CommandCase{"MAILFROM:<x@y>", Verb::Unknown, ""},
                      CommandCase{"RCP TO:<x@y>", Verb::Unknown, "TO:<x@y>"},
                      CommandCase{"DATAX", Verb::Unknown, ""},
                      CommandCase{"STARTTLSX", Verb::Unknown, ""}));

struct PathCase {
  std::string name;
  std::string keyword;
  std::string argument;
  PathError error;
  std::string address;
  std::string domain;
  std::string params;
  bool null_path = false;
};

class PathTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(PathTest, Parses) {
  const auto& c = GetParam();
  const PathArgument p = parse_path_argument(c.keyword, c.argument);
  EXPECT_EQ(p.error, c.error) << c.argument << " got " << to_string(p.error);
  if (c.error != PathError::None) return;
  EXPECT_EQ(p.address, c.address) << c.argument;
  EXPECT_EQ(p.domain, c.domain) << c.argument;
  EXPECT_EQ(p.params, c.params) << c.argument;
  EXPECT_EQ(p.null_path, c.null_path) << c.argument;
}

std::string path_case_name(const ::testing::TestParamInfo<PathCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    Paths, PathTest,
    ::testing::Values(
        PathCase{"Plain", "TO", "TO:<user@army.ml>", PathError::None, "user@army.ml", "army.ml", ""},
        PathCase{"KeywordWithColon", "TO:", "TO:<user@army.ml>", PathError::None, "user@army.ml",
                 "army.ml", ""},
        PathCase{"LowerCaseKeyword", "TO", "to:<user@army.ml>", PathError::None, "user@army.ml",
                 "army.ml", ""},
        PathCase{"SpaceAfterColon", "TO", "TO: <user@army.ml>", PathError::None, "user@army.ml",
                 "army.ml", ""},
        PathCase{"SpaceBeforeColon", "TO", "TO :<user@army.ml>", PathError::None,
                 "user@army.ml", "army.ml", ""},
        PathCase{"NoBrackets", "TO", "TO:user@army.ml", PathError::None, "user@army.ml",
                 "army.ml", ""},
        PathCase{"NoBracketsWithParams", "TO", "TO: user@army.ml NOTIFY=NEVER", PathError::None,
                 "user@army.ml", "army.ml", "NOTIFY=NEVER"},
        PathCase{"BlanksInsideBrackets", "TO", "TO:< user@army.ml >", PathError::None,
                 "user@army.ml", "army.ml", ""},
        PathCase{"QuotedSpace", "TO", "TO:<\"john doe\"@army.ml>", PathError::None,
                 "\"john doe\"@army.ml", "army.ml", ""},
        PathCase{"QuotedAngleAndAt", "TO", "TO:<\"a>b@c\"@army.ml>", PathError::None,
                 "\"a>b@c\"@army.ml", "army.ml", ""},
        PathCase{"QuotedEscapedQuote", "TO", "TO:<\"a\\\"b@c\"@army.ml>", PathError::None,
                 "\"a\\\"b@c\"@army.ml", "army.ml", ""},
        PathCase{"SourceRoute", "TO", "TO:<@relay1.example,@relay2.example:user@army.ml>",
                 PathError::None, "user@army.ml", "army.ml", ""},
        PathCase{"SourceRouteNoBrackets", "TO", "TO:@relay.example:user@army.ml",
                 PathError::None, "user@army.ml", "army.ml", ""},
        PathCase{"Ipv4Literal", "TO", "TO:<user@[192.0.2.1]>", PathError::None,
                 "user@[192.0.2.1]", "[192.0.2.1]", ""},
        PathCase{"Ipv6Literal", "TO", "TO:<user@[IPv6:2001:db8::1]>", PathError::None,
                 "user@[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]", ""},
        PathCase{"TrailingDot", "TO", "TO:<user@army.ml.>", PathError::None, "user@army.ml.",
                 "army.ml", ""},
        PathCase{"Utf8", "TO", "TO:<δοκιμή@παράδειγμα.δοκιμή>", PathError::None,
                 "δοκιμή@παράδειγμα.δοκιμή", "παράδειγμα.δοκιμή", ""},
        PathCase{"CaseKept", "TO", "TO:<User@ARMY.ML>", PathError::None, "User@ARMY.ML",
                 "ARMY.ML", ""},
        PathCase{"OrcptIsAParameter", "TO",
                 "TO:<user@army.ml> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;boss@nato.int",
                 PathError::None, "user@army.ml", "army.ml",
                 "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;boss@nato.int"},
        PathCase{"NoDomain", "TO", "TO:<Postmaster>", PathError::None, "Postmaster", "", ""},
        PathCase{"LastUnquotedAt", "TO", "TO:<a@b@army.ml>", PathError::None, "a@b@army.ml",
                 "army.ml", ""},
        PathCase{"NullSender", "FROM", "FROM:<>", PathError::None, "", "", "", true},
        PathCase{"NullSenderParams", "FROM", "FROM:<> SIZE=100", PathError::None, "", "",
                 "SIZE=100", true},
        PathCase{"MailFromParams", "FROM", "FROM:<a@example.org> BODY=8BITMIME SMTPUTF8",
                 PathError::None, "a@example.org", "example.org", "BODY=8BITMIME SMTPUTF8"},
        // negatives
        PathCase{"Empty", "TO", "", PathError::MissingKeyword, "", "", ""},
        PathCase{"WrongKeyword", "TO", "FROM:<a@b.example>", PathError::MissingKeyword, "", "",
                 ""},
        PathCase{"KeywordOnly", "TO", "TO", PathError::MissingColon, "", "", ""},
        PathCase{"NoColon", "TO", "TO <a@b.example>", PathError::MissingColon, "", "", ""},
        PathCase{"NothingAfterColon", "TO", "TO:  ", PathError::EmptyPath, "", "", ""},
        PathCase{"Unterminated", "TO", "TO:<a@b.example", PathError::UnterminatedPath, "", "",
                 ""},
        PathCase{"UnterminatedQuote", "TO", "TO:<\"john doe@army.ml>",
                 PathError::UnterminatedQuote, "", "", ""},
        PathCase{"UnterminatedLiteral", "TO", "TO:<a@[192.0.2.1>",
                 PathError::UnterminatedLiteral, "", "", ""},
        PathCase{"RouteWithoutColon", "TO", "TO:<@relay.example user@army.ml>",
                 PathError::BadSourceRoute, "", "", ""},
        PathCase{"RouteOnly", "TO", "TO:<@relay.example>", PathError::BadSourceRoute, "", "",
                 ""},
        PathCase{"UnquotedSpace", "TO", "TO:<john doe@army.ml>", PathError::UnexpectedSpace, "",
                 "", ""},
        PathCase{"ControlCharacter", "TO", std::string("TO:<a\x01" "b@army.ml>"),
                 PathError::BadCharacter, "", "", ""},
        PathCase{"StrayCloseBracket", "TO", "TO:a@army.ml>", PathError::BadCharacter, "", "",
                 ""},
        PathCase{"NestedOpenBracket", "TO", "TO:<a<b@army.ml>", PathError::BadCharacter, "", "",
                 ""},
        PathCase{"EmptyDomain", "TO", "TO:<user@>", PathError::BadDomain, "", "", ""},
        PathCase{"DotDomain", "TO", "TO:<user@.>", PathError::BadDomain, "", "", ""},
        PathCase{"RouteThenNothing", "TO", "TO:<@a.example:>", PathError::EmptyPath, "", "",
                 ""}),
    path_case_name);

TEST(EsmtpParam, OrcptAddressIsOnlyAParameter) {
  const PathArgument p =
      parse_rcpt_to("TO:<user@army.ml> NOTIFY=NEVER ORCPT=rfc822;boss@nato.int");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.address, "user@army.ml");
  EXPECT_EQ(find_esmtp_param(p.params, "orcpt"), std::optional<std::string_view>("rfc822;boss@nato.int"));
  EXPECT_EQ(find_esmtp_param(p.params, "NOTIFY"), std::optional<std::string_view>("NEVER"));
  EXPECT_EQ(find_esmtp_param(p.params, "SIZE"), std::nullopt);
  EXPECT_EQ(find_esmtp_param("SMTPUTF8", "SMTPUTF8"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_esmtp_param("", "SMTPUTF8"), std::nullopt);
}

struct BdatCase {
  std::string argument;
  BdatError error;
  std::uint64_t size = 0;
  bool last = false;
};

class BdatTest : public ::testing::TestWithParam<BdatCase> {};

TEST_P(BdatTest, Parses) {
  const auto& c = GetParam();
  const BdatCmd b = parse_bdat(c.argument);
  EXPECT_EQ(b.error, c.error) << c.argument;
  if (c.error != BdatError::None) return;
  EXPECT_EQ(b.chunk_size, c.size) << c.argument;
  EXPECT_EQ(b.is_last, c.last) << c.argument;
}

INSTANTIATE_TEST_SUITE_P(
    Bdat, BdatTest,
    ::testing::Values(BdatCase{"100", BdatError::None, 100, false},
                      BdatCase{"100 LAST", BdatError::None, 100, true},
                      BdatCase{"100 last", BdatError::None, 100, true},
                      BdatCase{"  0   LAST ", BdatError::None, 0, true},
                      BdatCase{"9223372036854775808 LAST", BdatError::None,
                               9223372036854775808ull, true},
                      BdatCase{"18446744073709551615", BdatError::None,
                               18446744073709551615ull, false},
                      BdatCase{"", BdatError::MissingSize},
                      BdatCase{"   ", BdatError::MissingSize},
                      BdatCase{"abc", BdatError::BadSize},
                      BdatCase{"-1", BdatError::BadSize},
                      BdatCase{"10x", BdatError::BadSize},
                      BdatCase{"LAST", BdatError::BadSize},
                      BdatCase{"18446744073709551616", BdatError::SizeOverflow},
                      BdatCase{"99999999999999999999999", BdatError::SizeOverflow},
                      BdatCase{"10 FIRST", BdatError::BadLastToken},
                      BdatCase{"10 LAST X", BdatError::BadLastToken}));

struct ReplyCase {
  std::string line;
  ReplyError error;
  int code = 0;
  bool last = true;
  std::string text = {};
};

class ReplyTest : public ::testing::TestWithParam<ReplyCase> {};

TEST_P(ReplyTest, Parses) {
  const auto& c = GetParam();
  const ReplyLine r = parse_reply_line(c.line);
  EXPECT_EQ(r.error, c.error) << c.line;
  if (c.error != ReplyError::None) return;
  EXPECT_EQ(r.code, c.code) << c.line;
  EXPECT_EQ(r.is_last, c.last) << c.line;
  EXPECT_EQ(r.text, c.text) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Replies, ReplyTest,
    ::testing::Values(ReplyCase{"250 OK", ReplyError::None, 250, true, "OK"},
                      ReplyCase{"250-PIPELINING", ReplyError::None, 250, false, "PIPELINING"},
                      ReplyCase{"250", ReplyError::None, 250, true, ""},
                      ReplyCase{"354 End data with <CR><LF>.<CR><LF>", ReplyError::None, 354,
                                true, "End data with <CR><LF>.<CR><LF>"},
                      ReplyCase{"550 5.1.1 unknown", ReplyError::None, 550, true,
                                "5.1.1 unknown"},
                      ReplyCase{"", ReplyError::TooShort},
                      ReplyCase{"25", ReplyError::TooShort},
                      ReplyCase{"abc def", ReplyError::BadCode},
                      ReplyCase{"650 nope", ReplyError::BadCode},
                      ReplyCase{"050 nope", ReplyError::BadCode},
                      ReplyCase{"2x0 nope", ReplyError::BadCode},
                      ReplyCase{"250xOK", ReplyError::BadSeparator},
                      ReplyCase{"2500 OK", ReplyError::BadSeparator}));

TEST(EhloKeywords, RecordsEachCapability) {
  ServerCapabilities caps;
  for (const char* line : {"PIPELINING", "chunking", "STARTTLS", "SMTPUTF8", "SIZE 10240000",
                           "8BITMIME", "DSN", "AUTH PLAIN LOGIN", "BINARYMIME"}) {
    record_ehlo_keyword(line, caps);
  }
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.chunking);
  EXPECT_TRUE(caps.starttls);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.size_limit, 10240000u);
  EXPECT_TRUE(caps.eightbitmime);
  EXPECT_TRUE(caps.dsn);
  EXPECT_TRUE(caps.auth);
  EXPECT_TRUE(caps.binarymime);
}

TEST(EhloKeywords, IgnoresUnknownAndNearMisses) {
  ServerCapabilities caps;
  for (const char* line : {"PIPELININGX", "X-CHUNKING", "ENHANCEDSTATUSCODES", "", "SIZE abc",
                           "STARTTL"}) {
    record_ehlo_keyword(line, caps);
  }
  EXPECT_FALSE(caps.pipelining);
  EXPECT_FALSE(caps.chunking);
  EXPECT_FALSE(caps.starttls);
  EXPECT_TRUE(caps.size);  // SIZE without a usable value still advertises the extension
  EXPECT_EQ(caps.size_limit, 0u);
}

struct AuthCase {
  std::string line;
  bool continuation;
};

class AuthContinuationTest : public ::testing::TestWithParam<AuthCase> {};

TEST_P(AuthContinuationTest, Classifies) {
  EXPECT_EQ(looks_like_auth_continuation(GetParam().line), GetParam().continuation)
      << GetParam().line;
}

INSTANTIATE_TEST_SUITE_P(Auth, AuthContinuationTest,
                         ::testing::Values(AuthCase{"dXNlcm5hbWU=", true}, AuthCase{"*", true},
                                           AuthCase{"", true}, AuthCase{"cGFzcw==", true},
                                           AuthCase{"MAIL FROM:<a@b.example>", false},
                                           AuthCase{"RCPT TO:<a@b>", false},
                                           AuthCase{"hello world", false},
                                           AuthCase{"abc-def", false}));

TEST(TlsStart, RecognisesRecordsAndRejectsText) {
  EXPECT_TRUE(looks_like_tls_start(0x16));
  EXPECT_TRUE(looks_like_tls_start(0x80));
  EXPECT_TRUE(looks_like_tls_start(0x00));
  EXPECT_FALSE(looks_like_tls_start('E'));
  EXPECT_FALSE(looks_like_tls_start('\r'));
  EXPECT_FALSE(looks_like_tls_start('\n'));
  EXPECT_FALSE(looks_like_tls_start(' '));
}

}  // namespace
}  // namespace rcptwatch::smtp
