// Transports against listeners the tests open themselves: octet-counting framing, UDP
// datagrams, TCP delivery with acknowledgement tracking, files with reopen, unix sockets.
#include <gtest/gtest.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "alert/transport.h"
#include "net_test_util.h"

namespace rcptwatch::alert {
namespace {

using namespace std::chrono_literals;
using testutil::FrameReader;
using testutil::TcpListener;
using testutil::UdpReceiver;

OutputSpec spec_of(const std::string& uri) {
  auto s = parse_output_spec(uri, Format::Json);
  EXPECT_TRUE(s) << s.error();
  return *s;
}

TransportOptions fast_options() {
  TransportOptions o;
  o.connect_timeout = 500ms;
  o.write_timeout = 1000ms;
  o.backoff = BackoffPolicy{10ms, 80ms};
  return o;
}

TEST(OctetCounting, Frames) {
  const struct {
    std::string_view message;
    std::string_view framed;
  } cases[] = {{"", "0 "}, {"a", "1 a"}, {"<14>1 - - - - - hi", "18 <14>1 - - - - - hi"},
               {"line\nbreak", "10 line\nbreak"}, {"\xC3\xA9t\xC3\xA9", "5 \xC3\xA9t\xC3\xA9"}};
  for (const auto& c : cases) {
    std::string out = "x";
    append_octet_counted(out, c.message);
    EXPECT_EQ(out, "x" + std::string(c.framed));
  }
  std::string big(10000, 'z');
  std::string out;
  append_octet_counted(out, big);
  EXPECT_EQ(out.substr(0, 6), "10000 ");
  EXPECT_EQ(out.size(), 10006u);
}

TEST(OctetCounting, ReaderRoundTripAndRejectsGarbage) {
  FrameReader r;
  std::string stream;
  append_octet_counted(stream, "one");
  append_octet_counted(stream, "two 2");
  append_octet_counted(stream, "");
  r.feed(stream.data(), 5);
  EXPECT_EQ(r.take(), std::vector<std::string>{"one"});
  r.feed(stream.data() + 5, stream.size() - 5);
  EXPECT_EQ(r.take(), (std::vector<std::string>{"two 2", ""}));
  FrameReader bad;
  bad.feed("x3 abc", 6);
  bad.take();
  EXPECT_TRUE(bad.error());
}

TEST(Backoff, DoublesToCap) {
  Backoff b(BackoffPolicy{100ms, 400ms});
  EXPECT_TRUE(b.ready());
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 5; ++i) {
    const auto before = SteadyClock::now();
    const auto next = b.fail();
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(next - before));
  }
  const std::chrono::milliseconds expect[] = {100ms, 200ms, 400ms, 400ms, 400ms};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_GE(delays[i], expect[i] - 1ms) << i;
    EXPECT_LE(delays[i], expect[i] + 20ms) << i;
  }
  EXPECT_FALSE(b.ready());
  b.reset();
  const auto before = SteadyClock::now();
  const auto n = b.fail() - before;
  EXPECT_GE(n, 100ms);
  EXPECT_LE(n, 120ms);
}

TEST(UdpTransport, OneDatagramPerMessage) {
  UdpReceiver rx;
  auto t = make_transport(spec_of("syslog+udp://127.0.0.1:" + std::to_string(rx.port())));
  const std::string msgs[] = {"<131>1 first", "second with spaces", std::string(4000, 'u')};
  for (const auto& m : msgs) EXPECT_EQ(t->send(m), SendStatus::Done);
  for (const auto& m : msgs) {
    auto got = rx.receive(2000ms);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, m);  // no framing, no newline
  }
  EXPECT_EQ(t->counters().delivered.load(), 3u);
  EXPECT_EQ(t->counters().errors.load(), 0u);
}

TEST(UdpTransport, UnresolvableHostRetriesWithBackoff) {
  auto t = make_transport(spec_of("syslog+udp://no-such-host.invalid:514"), fast_options());
  EXPECT_EQ(t->send("x"), SendStatus::Retry);
  EXPECT_GT(t->retry_at(), SteadyClock::now());
  EXPECT_EQ(t->counters().errors.load(), 1u);
  EXPECT_EQ(t->counters().delivered.load(), 0u);
}

TEST(TcpTransport, DeliversOctetCountedFramesAndTracksAcks) {
  TcpListener server;
  auto t = make_transport(spec_of("syslog+tcp://127.0.0.1:" + std::to_string(server.port())),
                          fast_options());
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back("message " + std::to_string(i) + (i % 3 == 0 ? " with\nnewline" : ""));
    ASSERT_EQ(t->send(sent.back()), SendStatus::Done);
  }
  EXPECT_EQ(server.read_frames(20, 3000ms), sent);
  EXPECT_FALSE(server.framing_error());
  // The kernel reports the peer's acknowledgements; every message is released.
  const auto deadline = SteadyClock::now() + 3s;
  while (t->unacknowledged() > 0 && SteadyClock::now() < deadline) {
    t->service();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(t->unacknowledged(), 0u);
  EXPECT_EQ(t->counters().delivered.load(), 20u);
  EXPECT_EQ(t->counters().reconnects.load(), 0u);
  EXPECT_EQ(t->counters().resent.load(), 0u);
}

TEST(TcpTransport, RefusedConnectionIsRetryWithBackoffAndKeepsNothing) {
  TcpListener probe;
  const std::uint16_t port = probe.port();
  probe.close_listener();  // nothing listens there now
  auto t = make_transport(spec_of("syslog+tcp://127.0.0.1:" + std::to_string(port)),
                          fast_options());
  EXPECT_EQ(t->send("lost?"), SendStatus::Retry);
  EXPECT_EQ(t->unacknowledged(), 0u);
  EXPECT_GT(t->retry_at(), SteadyClock::now());
  EXPECT_EQ(t->send("again"), SendStatus::Retry);  // inside the backoff: no new attempt
  EXPECT_EQ(t->counters().errors.load(), 1u);
}

TEST(TcpTransport, KeepsUnacknowledgedAndResendsThemAfterReset) {
  // A peer that never reads, with a tiny receive window: most messages stay in our send
  // queue, unacknowledged. Closing the listener resets the connection; after it comes back
  // exactly the unacknowledged messages must be written again.
  TcpListener server(0, 2048);
  const std::uint16_t port = server.port();
  auto t = make_transport(spec_of("syslog+tcp://127.0.0.1:" + std::to_string(port)),
                          fast_options());
  std::vector<std::string> msgs;
  for (int i = 0; i < 50; ++i) {
    msgs.push_back("msg-" + std::to_string(i) + "-" + std::string(200, 'p'));
    ASSERT_EQ(t->send(msgs.back()), SendStatus::Done);
  }
  std::this_thread::sleep_for(100ms);
  t->service();
  const std::size_t unacked = t->unacknowledged();
  const std::uint64_t acked = t->counters().delivered.load();
  ASSERT_GT(unacked, 0u);
  ASSERT_EQ(acked + unacked, 50u);
  server.close_listener();  // resets the never-accepted connection
  ASSERT_TRUE(server.open(port));
  std::vector<std::string> got;
  const auto deadline = SteadyClock::now() + 5s;
  while (SteadyClock::now() < deadline && got.size() < unacked) {
    t->service();
    for (auto& f : server.read_frames(unacked - got.size(), 50ms)) got.push_back(f);
  }
  const std::vector<std::string> expected(msgs.begin() + static_cast<std::ptrdiff_t>(acked), msgs.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(t->counters().reconnects.load(), 1u);
  EXPECT_EQ(t->counters().resent.load(), unacked);
  const auto ack_deadline = SteadyClock::now() + 3s;
  while (t->unacknowledged() > 0 && SteadyClock::now() < ack_deadline) {
    t->service();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(t->counters().delivered.load(), 50u);
}

TEST(TcpTransport, AbandonCountsUnacknowledgedAsLost) {
  TcpListener server(0, 2048);
  auto t = make_transport(spec_of("syslog+tcp://127.0.0.1:" + std::to_string(server.port())),
                          fast_options());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(t->send(std::string(200, 'q')), SendStatus::Done);
  t->service();
  const std::size_t unacked = t->unacknowledged();
  ASSERT_GT(unacked, 0u);
  t->abandon();
  EXPECT_EQ(t->unacknowledged(), 0u);
  EXPECT_EQ(t->counters().lost.load(), unacked);
  EXPECT_EQ(t->counters().lost.load() + t->counters().delivered.load(), 50u);
}

TEST(FileTransport, AppendsLinesAndReopens) {
  char dir_template[] = "/tmp/rw_alert_file_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/alerts.log";
  {
    std::ofstream pre(path);
    pre << "existing\n";
  }
  auto t = make_transport(spec_of("file:" + path));
  EXPECT_EQ(t->send("one"), SendStatus::Done);
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);  // logrotate
  EXPECT_EQ(t->send("two"), SendStatus::Done);                      // still the old file
  t->reopen();
  EXPECT_EQ(t->send("three"), SendStatus::Done);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_EQ(slurp(path + ".1"), "existing\none\ntwo\n");
  EXPECT_EQ(slurp(path), "three\n");
  EXPECT_EQ(t->counters().delivered.load(), 3u);
  std::remove(path.c_str());
  std::remove((path + ".1").c_str());
  ::rmdir(dir_template);
}

TEST(FileTransport, UnwritableDirectoryIsRetry) {
  auto t = make_transport(spec_of("file:/nonexistent-dir/x/alerts.log"), fast_options());
  EXPECT_EQ(t->send("x"), SendStatus::Retry);
  EXPECT_GE(t->counters().errors.load(), 1u);
}

class UnixSocketTest : public ::testing::TestWithParam<int> {};

TEST_P(UnixSocketTest, DatagramOrStreamFallback) {
  const int type = GetParam();
  char dir_template[] = "/tmp/rw_alert_unix_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/log";
  const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  if (type == SOCK_STREAM) {
    ASSERT_EQ(::listen(fd, 1), 0);
  }
  auto t = make_transport(spec_of("syslog+unix://" + path), fast_options());
  EXPECT_EQ(t->send("<134>hello"), SendStatus::Done);
  EXPECT_EQ(t->send("<134>world"), SendStatus::Done);
  std::string got;
  if (type == SOCK_DGRAM) {
    char buf[256];
    for (int i = 0; i < 2; ++i) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n)).push_back('|');
    }
    EXPECT_EQ(got, "<134>hello|<134>world|");
  } else {
    const int conn = ::accept(fd, nullptr, nullptr);
    ASSERT_GE(conn, 0);
    char buf[256];
    while (got.size() < 22) {
      const ssize_t n = ::read(conn, buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, std::string("<134>hello\0<134>world\0", 22));
    ::close(conn);
  }
  EXPECT_EQ(t->counters().delivered.load(), 2u);
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

INSTANTIATE_TEST_SUITE_P(Types, UnixSocketTest, ::testing::Values(SOCK_DGRAM, SOCK_STREAM));

TEST(UnixTransport, MissingSocketIsRetry) {
  auto t = make_transport(spec_of("syslog+unix:///tmp/rw-no-such-socket"), fast_options());
  EXPECT_EQ(t->send("x"), SendStatus::Retry);
  EXPECT_EQ(t->counters().delivered.load(), 0u);
}

}  // namespace
}  // namespace rcptwatch::alert
