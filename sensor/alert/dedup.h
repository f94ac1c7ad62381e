// De-duplication and per-rule rate limiting of alerts, on packet time so that replays give
// the same answer as live capture. A SOC wants one alert per (sender, recipient, rule) per
// window with a repeat count, and no alert storm from one noisy rule.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "alert/alert.h"
#include "alert/sink.h"

namespace rcptwatch::alert {

struct DedupConfig {
  std::int64_t window_usec = 600LL * 1'000'000;  // 0 = no de-duplication
  std::uint32_t rate_per_minute = 0;             // per rule id; 0 = no rate limit
  std::size_t max_keys = 100'000;                // tracked (sender, recipient, rule) keys
};

enum class DedupVerdict : std::uint8_t { Emit, Duplicate, RateLimited };

struct DedupDecision {
  DedupVerdict verdict = DedupVerdict::Emit;
  // For Emit: how many repeats of this key were suppressed since the previous emitted alert.
  std::uint32_t repeat_count = 0;
};

struct DedupCounters {
  std::uint64_t emitted = 0;
  std::uint64_t duplicates = 0;    // suppressed inside a window
  std::uint64_t rate_limited = 0;  // suppressed by the per-rule limit
  std::uint64_t evicted = 0;       // keys forgotten because of max_keys
};

// The key is the envelope sender (MAIL FROM), the recipient (RCPT TO) and the rule id.
// A key's window opens at an emitted alert and lasts window_usec of packet time; repeats in
// it are counted, and the first alert after it is emitted with that count. Repeats that are
// never followed by another alert remain only in the `duplicates` counter.
// The rate limit is a token bucket per rule: rate_per_minute tokens, refilled continuously on
// packet time; an alert that passes de-duplication but finds no token is dropped and counted,
// and does not open a window. Not thread-safe: one per pipeline.
class Deduplicator {
 public:
  explicit Deduplicator(DedupConfig config) : config_(config) {}

  DedupDecision check(const Alert& a);
  const DedupCounters& counters() const { return counters_; }
  std::size_t tracked_keys() const { return keys_.size(); }

 private:
  struct KeyState {
    Timestamp window_start;
    std::uint32_t repeats = 0;
    std::list<std::string>::iterator order;  // position in age_order_
  };
  struct Bucket {
    double tokens = 0;
    Timestamp last;
  };

  bool take_token(std::uint32_t rule, Timestamp now);

  DedupConfig config_;
  DedupCounters counters_;
  std::unordered_map<std::string, KeyState> keys_;
  std::list<std::string> age_order_;  // oldest window first; evicted from the front
  std::unordered_map<std::uint32_t, Bucket> buckets_;
};

// An AlertSink decorator: forwards the alerts the Deduplicator lets through to `next`,
// carrying the repeat count when Alert has a `repeat_count` field. Events pass through.
class DedupSink final : public AlertSink {
 public:
  DedupSink(AlertSink& next, DedupConfig config) : next_(next), dedup_(config) {}

  void write_alert(const Alert& a) override;
  void write_event_json(std::string_view json) override { next_.write_event_json(json); }
  void flush() override { next_.flush(); }

  const DedupCounters& counters() const { return dedup_.counters(); }
  std::size_t tracked_keys() const { return dedup_.tracked_keys(); }

 private:
  AlertSink& next_;
  Deduplicator dedup_;
};

}  // namespace rcptwatch::alert
