// De-duplication window with repeat counts, per-rule rate limit, bounded key memory, and the
// DedupSink decorator.
#include <gtest/gtest.h>

#include <vector>

#include "alert/dedup.h"
#include "sample_alert.h"

namespace rcptwatch::alert {
namespace {

constexpr std::int64_t kSec = 1'000'000;

Alert at(std::int64_t sec, std::string rcpt = "x@army.ml", std::uint32_t sid = 1,
         std::string from = "alice@example.com") {
  Alert a = sample_alert();
  a.ts = Timestamp{sec * kSec};
  a.rcpt_to = std::move(rcpt);
  a.signature_id = sid;
  a.mail_from = std::move(from);
  return a;
}

struct Step {
  std::int64_t sec;
  const char* rcpt;
  std::uint32_t sid;
  DedupVerdict verdict;
  std::uint32_t repeat_count;
};

void run(Deduplicator& d, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const DedupDecision got = d.check(at(s.sec, s.rcpt, s.sid));
    EXPECT_EQ(got.verdict, s.verdict) << "step " << i;
    EXPECT_EQ(got.repeat_count, s.repeat_count) << "step " << i;
  }
}

TEST(Dedup, WindowSuppressesAndCarriesRepeatCount) {
  Deduplicator d(DedupConfig{600 * kSec, 0, 1000});
  run(d, {
             {0, "x@army.ml", 1, DedupVerdict::Emit, 0},
             {1, "x@army.ml", 1, DedupVerdict::Duplicate, 0},
             {599, "x@army.ml", 1, DedupVerdict::Duplicate, 0},
             {300, "y@army.ml", 1, DedupVerdict::Emit, 0},      // other recipient
             {301, "x@army.ml", 2, DedupVerdict::Emit, 0},      // other rule
             {600, "x@army.ml", 1, DedupVerdict::Emit, 2},      // window over: 2 repeats
             {601, "x@army.ml", 1, DedupVerdict::Duplicate, 0},  // new window from 600
             {1199, "x@army.ml", 1, DedupVerdict::Duplicate, 0},
             {1200, "x@army.ml", 1, DedupVerdict::Emit, 2},
             {5000, "x@army.ml", 1, DedupVerdict::Emit, 0},
         });
  EXPECT_EQ(d.counters().emitted, 6u);
  EXPECT_EQ(d.counters().duplicates, 4u);
  EXPECT_EQ(d.counters().rate_limited, 0u);
}

TEST(Dedup, SenderIsPartOfKey) {
  Deduplicator d(DedupConfig{});
  EXPECT_EQ(d.check(at(0, "x@a.ml", 1, "a@x")).verdict, DedupVerdict::Emit);
  EXPECT_EQ(d.check(at(1, "x@a.ml", 1, "b@x")).verdict, DedupVerdict::Emit);
  EXPECT_EQ(d.check(at(2, "x@a.ml", 1, "a@x")).verdict, DedupVerdict::Duplicate);
  // A NUL inside a field must not make two different keys equal.
  EXPECT_EQ(d.check(at(3, std::string("x\0y", 3), 1, "a")).verdict, DedupVerdict::Emit);
  EXPECT_EQ(d.check(at(4, "y", 1, std::string("a\0x", 3))).verdict, DedupVerdict::Emit);
}

TEST(Dedup, WindowZeroDisablesDedup) {
  Deduplicator d(DedupConfig{0, 0, 10});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(d.check(at(i)).verdict, DedupVerdict::Emit);
  EXPECT_EQ(d.tracked_keys(), 0u);
}

TEST(Dedup, RateLimitPerRuleOnPacketTime) {
  Deduplicator d(DedupConfig{0, 2, 1000});  // 2 per minute per rule
  run(d, {
             {0, "a@x.ml", 1, DedupVerdict::Emit, 0},
             {0, "b@x.ml", 1, DedupVerdict::Emit, 0},
             {1, "c@x.ml", 1, DedupVerdict::RateLimited, 0},
             {1, "c@x.ml", 2, DedupVerdict::Emit, 0},  // other rule has its own bucket
             {29, "d@x.ml", 1, DedupVerdict::RateLimited, 0},
             {31, "e@x.ml", 1, DedupVerdict::Emit, 0},  // one token back after 30 s
             {32, "f@x.ml", 1, DedupVerdict::RateLimited, 0},
             {1000, "g@x.ml", 1, DedupVerdict::Emit, 0},  // refills to capacity, not beyond
             {1000, "h@x.ml", 1, DedupVerdict::Emit, 0},
             {1000, "i@x.ml", 1, DedupVerdict::RateLimited, 0},
         });
  EXPECT_EQ(d.counters().rate_limited, 4u);
  EXPECT_EQ(d.counters().emitted, 6u);
}

TEST(Dedup, RateLimitedAlertDoesNotOpenWindow) {
  Deduplicator d(DedupConfig{600 * kSec, 1, 1000});
  EXPECT_EQ(d.check(at(0, "a@x.ml")).verdict, DedupVerdict::Emit);
  EXPECT_EQ(d.check(at(1, "b@x.ml")).verdict, DedupVerdict::RateLimited);
  EXPECT_EQ(d.check(at(2, "a@x.ml")).verdict, DedupVerdict::Duplicate);  // window, not bucket
  EXPECT_EQ(d.check(at(61, "b@x.ml")).verdict, DedupVerdict::Emit);      // not a duplicate
}

TEST(Dedup, BoundedKeysEvictOldest) {
  Deduplicator d(DedupConfig{600 * kSec, 0, 3});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.check(at(i, "r" + std::to_string(i))).verdict, DedupVerdict::Emit);
  }
  EXPECT_EQ(d.check(at(10, "r3")).verdict, DedupVerdict::Emit);  // evicts r0
  EXPECT_EQ(d.tracked_keys(), 3u);
  EXPECT_EQ(d.counters().evicted, 1u);
  EXPECT_EQ(d.check(at(11, "r1")).verdict, DedupVerdict::Duplicate);
  EXPECT_EQ(d.check(at(12, "r0")).verdict, DedupVerdict::Emit);  // forgotten: alerts again
  EXPECT_EQ(d.counters().evicted, 2u);                            // r1 was oldest window
  EXPECT_EQ(d.check(at(13, "r1")).verdict, DedupVerdict::Emit);
}

class RecordingSink final : public AlertSink {
 public:
  void write_alert(const Alert& a) override { alerts.push_back(a); }
  void write_event_json(std::string_view j) override { events.emplace_back(j); }
  void flush() override { ++flushes; }
  std::vector<Alert> alerts;
  std::vector<std::string> events;
  int flushes = 0;
};

void expect_repeat_count(const Alert& a, std::uint32_t n) { EXPECT_EQ(a.repeat_count, n); }

TEST(DedupSink, ForwardsOnlyEmittedAlertsAndPassesEvents) {
  RecordingSink next;
  DedupSink sink(next, DedupConfig{600 * kSec, 0, 100});
  sink.write_alert(at(0));
  sink.write_alert(at(5));
  sink.write_alert(at(6));
  sink.write_alert(at(700));
  sink.write_event_json("{\"event_type\":\"stats\"}");
  sink.flush();
  ASSERT_EQ(next.alerts.size(), 2u);
  EXPECT_EQ(next.alerts[0].ts.usec, 0);
  EXPECT_EQ(next.alerts[1].ts.usec, 700 * kSec);
  expect_repeat_count(next.alerts[0], 0u);
  expect_repeat_count(next.alerts[1], 2u);
  EXPECT_EQ(next.events.size(), 1u);
  EXPECT_EQ(next.flushes, 1);
  EXPECT_EQ(sink.counters().duplicates, 2u);
  EXPECT_EQ(sink.counters().emitted, 2u);
}

}  // namespace
}  // namespace rcptwatch::alert
