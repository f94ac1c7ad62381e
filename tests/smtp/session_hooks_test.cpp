// SmtpSession hooks for what encryption leaves visible: greeting host, EHLO reply host, and
// the first client bytes after STARTTLS (bounded by max_tls_client_bytes).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/session.h"

namespace rcptwatch::smtp {
namespace {

struct HookObserver : SmtpObserver {
  std::vector<std::string> greetings, ehlo_hosts;
  std::string tls_bytes;
  int tls = 0;
  void on_recipient(const RecipientEvent&) override {}
  void on_tls(Timestamp) override { ++tls; }
  void on_server_greeting(std::string_view h, Timestamp) override { greetings.emplace_back(h); }
  void on_ehlo_host(std::string_view h, Timestamp) override { ehlo_hosts.emplace_back(h); }
  void on_tls_client_data(Bytes d, Timestamp) override {
    tls_bytes.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
};

// The view outlives the temporary only for the duration of the call it is passed to.
Bytes b(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

TEST(SessionHooks, GreetingEhloAndTlsBytes) {
  HookObserver o;
  SmtpCounters c;
  SmtpLimits limits;
  limits.max_tls_client_bytes = 10;
  SmtpSession s(limits, o, c);
  const Timestamp t{};
  s.on_server_data(b("220 mx.army.ml ESMTP ready\r\n"), t);
  s.on_client_data(b("EHLO client.example.org\r\n"), t);
  s.on_server_data(b("250-mx.army.ml Hello\r\n250-STARTTLS\r\n250 8BITMIME\r\n"), t);
  s.on_client_data(b("STARTTLS\r\n"), t);
  s.on_server_data(b("220 2.0.0 Ready\r\n"), t);  // a 220 that is not the greeting
  s.on_client_data(b(std::string("\x16\x03\x01\x00\x05hello", 10)), t);
  s.on_client_data(b("more bytes past the cap"), t);
  s.on_close(t);
  EXPECT_EQ(o.greetings, std::vector<std::string>{"mx.army.ml"});
  EXPECT_EQ(o.ehlo_hosts, std::vector<std::string>{"mx.army.ml"});
  EXPECT_EQ(o.tls, 1);
  EXPECT_EQ(o.tls_bytes, std::string("\x16\x03\x01\x00\x05hello", 10));
}

TEST(SessionHooks, ClientHelloRightAfterStarttlsLineIsForwarded) {
  HookObserver o;
  SmtpCounters c;
  SmtpSession s(SmtpLimits{}, o, c);
  const Timestamp t{};
  s.on_server_data(b("220 mx.example.net\r\n"), t);
  // The reply to STARTTLS is not captured: the TLS record itself shows it was accepted.
  s.on_client_data(b("STARTTLS\r\n\x16\x03\x01"), t);
  EXPECT_EQ(o.tls, 1);
  EXPECT_EQ(o.tls_bytes, "\x16\x03\x01");
  EXPECT_TRUE(o.ehlo_hosts.empty());
}

TEST(SessionHooks, RejectedEhloReportsNoHost) {
  HookObserver o;
  SmtpCounters c;
  SmtpSession s(SmtpLimits{}, o, c);
  const Timestamp t{};
  s.on_server_data(b("554 nope.example go away\r\n"), t);
  s.on_client_data(b("EHLO x\r\n"), t);
  s.on_server_data(b("502 mx.army.ml no\r\n"), t);
  EXPECT_TRUE(o.greetings.empty());
  EXPECT_TRUE(o.ehlo_hosts.empty());
}

}  // namespace
}  // namespace rcptwatch::smtp
