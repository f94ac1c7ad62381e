// QueuedSink: overflow drops the oldest and counts it, flush drains, shutdown counts what is
// left, events per format, and TCP delivery surviving a collector restart without loss.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "alert/queued_sink.h"
#include "net_test_util.h"
#include "sample_alert.h"

namespace rcptwatch::alert {
namespace {

using namespace std::chrono_literals;

// A transport that records messages and can be held closed (Retry) or blocked inside send.
class FakeTransport final : public Transport {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool block = false;    // send() waits while true
    bool refuse = false;   // send() answers Retry while true
    bool entered = false;  // a send() call is waiting on `block`
    std::vector<std::string> messages;
    int reopens = 0;
  };
  explicit FakeTransport(Shared& s) : s_(s) {}
  SendStatus send(std::string_view m) override {
    std::unique_lock lk(s_.mu);
    s_.entered = true;
    s_.cv.notify_all();
    s_.cv.wait(lk, [&] { return !s_.block; });
    if (s_.refuse) return SendStatus::Retry;
    s_.messages.emplace_back(m);
    ++counters_.delivered;
    return SendStatus::Done;
  }
  void reopen() override {
    std::lock_guard lk(s_.mu);
    ++s_.reopens;
  }
  SteadyClock::time_point retry_at() const override { return SteadyClock::now() + 5ms; }

 private:
  Shared& s_;
};

Alert numbered(std::uint32_t n) {
  Alert a = sample_alert();
  a.signature_id = n;
  return a;
}

FormatContext context() {
  FormatContext c;
  c.hostname = "sensor1";
  c.pid = 77;
  c.version = "1.2.3";
  return c;
}

TEST(QueuedSink, DeliversInOrderAndFlushes) {
  FakeTransport::Shared shared;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Cef, context());
  for (std::uint32_t i = 0; i < 100; ++i) sink.write_alert(numbered(i));
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  std::lock_guard lk(shared.mu);
  ASSERT_EQ(shared.messages.size(), 100u);
  for (std::uint32_t i = 0; i < 100; ++i) {
    std::string expect;
    format_alert(Format::Cef, numbered(i), context(), expect);
    EXPECT_EQ(shared.messages[i], expect);
  }
  const OutputStats s = sink.stats();
  EXPECT_EQ(s.enqueued, 100u);
  EXPECT_EQ(s.sent, 100u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.queued, 0u);
}

TEST(QueuedSink, OverflowDropsOldestAndCounts) {
  FakeTransport::Shared shared;
  shared.block = true;
  QueuedSinkOptions opts;
  opts.capacity = 3;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Json, context(), opts);
  sink.write_alert(numbered(0));
  {
    // Wait until the sender holds alert 0 inside send(): the queue is then empty.
    std::unique_lock lk(shared.mu);
    ASSERT_TRUE(shared.cv.wait_for(lk, 5s, [&] { return shared.entered; }));
  }
  for (std::uint32_t i = 1; i <= 10; ++i) sink.write_alert(numbered(i));  // never blocks
  OutputStats s = sink.stats();
  EXPECT_EQ(s.dropped_overflow, 7u);
  EXPECT_EQ(s.dropped, 7u);
  EXPECT_EQ(s.queued, 4u);  // 3 queued + 1 in flight
  {
    std::lock_guard lk(shared.mu);
    shared.block = false;
  }
  shared.cv.notify_all();
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  std::lock_guard lk(shared.mu);
  ASSERT_EQ(shared.messages.size(), 4u);
  const std::uint32_t kept[] = {0, 8, 9, 10};  // the in-flight one and the newest three
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NE(shared.messages[i].find("\"signature_id\":" + std::to_string(kept[i]) + ","),
              std::string::npos)
        << shared.messages[i];
  }
  s = sink.stats();
  EXPECT_EQ(s.sent, 4u);
  EXPECT_EQ(s.enqueued, s.sent + s.dropped);
}

TEST(QueuedSink, BlockWhenFullLosesNothing) {
  FakeTransport::Shared shared;
  shared.block = true;
  QueuedSinkOptions opts;
  opts.capacity = 2;
  opts.block_when_full = true;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Json, context(), opts);
  std::thread writer([&] {
    for (std::uint32_t i = 0; i < 50; ++i) sink.write_alert(numbered(i));
  });
  {
    std::unique_lock lk(shared.mu);
    ASSERT_TRUE(shared.cv.wait_for(lk, 5s, [&] { return shared.entered; }));
  }
  std::this_thread::sleep_for(50ms);
  EXPECT_LE(sink.stats().queued, 3u);  // the writer waits instead of dropping
  {
    std::lock_guard lk(shared.mu);
    shared.block = false;
  }
  shared.cv.notify_all();
  writer.join();
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  const OutputStats s = sink.stats();
  EXPECT_EQ(s.sent, 50u);
  EXPECT_EQ(s.dropped, 0u);
  std::lock_guard lk(shared.mu);
  ASSERT_EQ(shared.messages.size(), 50u);
  for (std::uint32_t i = 0; i < 50; ++i) {
    EXPECT_NE(shared.messages[i].find("\"signature_id\":" + std::to_string(i) + ","),
              std::string::npos);
  }
}

TEST(QueuedSink, CloseCountsUndeliveredAsDroppedWithinDeadline) {
  FakeTransport::Shared shared;
  shared.refuse = true;  // an output that never comes back
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Json, context());
  for (std::uint32_t i = 0; i < 5; ++i) sink.write_alert(numbered(i));
  const auto start = SteadyClock::now();
  EXPECT_FALSE(sink.flush_until(start + 100ms));
  sink.close(SteadyClock::now() + 100ms);
  EXPECT_LT(SteadyClock::now() - start, 2s);
  const OutputStats s = sink.stats();
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.dropped, 5u);
  EXPECT_EQ(s.dropped_overflow, 0u);
  EXPECT_EQ(s.queued, 0u);
  sink.write_alert(numbered(9));  // after close: counted, not queued
  EXPECT_EQ(sink.stats().dropped, 6u);
  EXPECT_EQ(sink.stats().enqueued, 6u);
}

TEST(QueuedSink, RetriedMessageIsDeliveredWhenOutputReturns) {
  FakeTransport::Shared shared;
  shared.refuse = true;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Json, context());
  sink.write_alert(numbered(1));
  sink.write_alert(numbered(2));
  std::this_thread::sleep_for(50ms);
  {
    std::lock_guard lk(shared.mu);
    EXPECT_TRUE(shared.messages.empty());
    shared.refuse = false;
  }
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  EXPECT_EQ(sink.stats().sent, 2u);
  EXPECT_EQ(sink.stats().dropped, 0u);
}

struct EventCase {
  Format format;
  bool carried;
  const char* prefix;
};

class QueuedSinkEvents : public ::testing::TestWithParam<EventCase> {};

TEST_P(QueuedSinkEvents, EventsPerFormat) {
  const EventCase& c = GetParam();
  FakeTransport::Shared shared;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), c.format, context());
  sink.write_event_json(R"({"event_type":"stats"})");
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  std::lock_guard lk(shared.mu);
  if (!c.carried) {
    EXPECT_TRUE(shared.messages.empty());
    EXPECT_EQ(sink.stats().events_skipped, 1u);
    return;
  }
  ASSERT_EQ(shared.messages.size(), 1u);
  const std::string& m = shared.messages[0];
  EXPECT_EQ(m.rfind(c.prefix, 0), 0u) << m;
  EXPECT_TRUE(m.ends_with(R"({"event_type":"stats"})")) << m;
  EXPECT_EQ(sink.stats().events_skipped, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    All, QueuedSinkEvents,
    ::testing::Values(EventCase{Format::Json, true, "{"},
                      EventCase{Format::Rfc5424, true, "<134>1 "},  // local0.info
                      EventCase{Format::Rfc3164, true, "<134>"},
                      EventCase{Format::Cef, false, ""}, EventCase{Format::Leef, false, ""}));

TEST(QueuedSink, Rfc5424EventCarriesStatsMsgId) {
  FakeTransport::Shared shared;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Rfc5424, context());
  sink.write_event_json("{}");
  ASSERT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  std::lock_guard lk(shared.mu);
  ASSERT_EQ(shared.messages.size(), 1u);
  EXPECT_NE(shared.messages[0].find(" sensor1 rcptwatch 77 STATS - \xEF\xBB\xBF{}"),
            std::string::npos)
      << shared.messages[0];
}

TEST(QueuedSink, ReopenReachesTransport) {
  FakeTransport::Shared shared;
  QueuedSink sink(std::make_unique<FakeTransport>(shared), Format::Json, context());
  sink.request_reopen();
  const auto deadline = SteadyClock::now() + 5s;
  for (;;) {
    {
      std::lock_guard lk(shared.mu);
      if (shared.reopens == 1 || SteadyClock::now() > deadline) break;
    }
    std::this_thread::sleep_for(2ms);
  }
  std::lock_guard lk(shared.mu);
  EXPECT_EQ(shared.reopens, 1);
}

std::set<std::uint32_t> sids_in(const std::vector<std::string>& frames) {
  std::set<std::uint32_t> out;
  for (const auto& f : frames) {
    const auto p = f.find("\"signature_id\":");
    if (p != std::string::npos) out.insert(static_cast<std::uint32_t>(std::stoul(f.substr(p + 15))));
  }
  return out;
}

TEST(QueuedSink, TcpCollectorRestartLosesNothing) {
  testutil::TcpListener server;
  const std::uint16_t port = server.port();
  auto spec = parse_output_spec("syslog+tcp://127.0.0.1:" + std::to_string(port), Format::Json);
  ASSERT_TRUE(spec);
  QueuedSinkOptions opts;
  opts.transport.backoff = BackoffPolicy{10ms, 100ms};
  opts.transport.connect_timeout = 500ms;
  QueuedSink sink(*spec, context(), opts);

  for (std::uint32_t i = 0; i < 50; ++i) sink.write_alert(numbered(i));
  auto first = server.read_frames(50, 5s);
  EXPECT_EQ(sids_in(first).size(), 50u);
  ASSERT_TRUE(sink.flush_until(SteadyClock::now() + 5s));

  // The collector goes away (orderly close) while alerts keep coming, then returns.
  server.close_connection();
  server.close_listener();
  for (std::uint32_t i = 50; i < 100; ++i) {
    sink.write_alert(numbered(i));
    if (i % 10 == 0) std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(server.open(port));
  std::vector<std::string> second;
  const auto deadline = SteadyClock::now() + 10s;
  while (sids_in(second).size() < 50 && SteadyClock::now() < deadline) {
    for (auto& f : server.read_frames(1, 50ms)) second.push_back(f);
  }
  std::set<std::uint32_t> want;
  for (std::uint32_t i = 50; i < 100; ++i) want.insert(i);
  EXPECT_EQ(sids_in(second), want);
  EXPECT_TRUE(sink.flush_until(SteadyClock::now() + 5s));
  const OutputStats s = sink.stats();
  EXPECT_EQ(s.sent, 100u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_GE(s.errors, 1u);  // at least the refused connection attempts
}

}  // namespace
}  // namespace rcptwatch::alert
