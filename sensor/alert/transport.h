// Transports: how one formatted message reaches an output (stdout, an appended file, a syslog
// collector over UDP, TCP with RFC 6587 octet counting, or a local unix socket). They run on
// a QueuedSink's sender thread only, so they may block for a bounded time; they never throw.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "alert/output_spec.h"

namespace rcptwatch::alert {

using SteadyClock = std::chrono::steady_clock;

// Counters a transport keeps; atomics because stats are read from other threads.
struct TransportCounters {
  std::atomic<std::uint64_t> delivered{0};   // written (file/udp/unix) or acknowledged (tcp)
  std::atomic<std::uint64_t> lost{0};        // given up on (udp send error, tcp unacked at close)
  std::atomic<std::uint64_t> reconnects{0};  // successful connections after the first
  std::atomic<std::uint64_t> resent{0};      // tcp messages written again after a reconnect
  std::atomic<std::uint64_t> errors{0};      // failed connects, writes, resolutions
};

enum class SendStatus : std::uint8_t {
  Done,   // the transport owns the message now (written, or kept until acknowledged)
  Retry,  // not taken: output unreachable; call again at retry_at()
  Failed  // not deliverable; counted as lost by the transport
};

struct BackoffPolicy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{30'000};
};

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds write_timeout{5'000};  // a stalled peer counts as a broken one
  BackoffPolicy backoff;
  std::size_t max_unacked_bytes = 4 << 20;  // tcp: stop taking messages beyond this
  std::size_t max_queued_messages = 10'000;  // kafka: librdkafka's own queue
};

class Transport {
 public:
  virtual ~Transport() = default;
  // `message` has no framing and no trailing newline; the transport adds what its wire needs.
  virtual SendStatus send(std::string_view message) = 0;
  // Housekeeping while idle: acknowledgements, peer-close detection, reconnect and resend.
  virtual void service() {}
  // Messages taken but not yet known delivered (tcp: not acknowledged by the peer).
  virtual std::size_t unacknowledged() const { return 0; }
  // Gives up on unacknowledged messages (shutdown); they are counted as lost.
  virtual void abandon() {}
  // Close and reopen the file (logrotate); no-op for other transports.
  virtual void reopen() {}
  // After a Retry: when the next attempt may succeed.
  virtual SteadyClock::time_point retry_at() const { return SteadyClock::now(); }

  const TransportCounters& counters() const { return counters_; }

 protected:
  TransportCounters counters_;
};

// Exponential backoff: initial, doubling, capped.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy p) : policy_(p), current_(p.initial) {}
  // Records a failure now; returns when the next attempt is allowed.
  SteadyClock::time_point fail();
  void reset() { current_ = policy_.initial; }
  SteadyClock::time_point next() const { return next_; }
  bool ready() const { return SteadyClock::now() >= next_; }

 private:
  BackoffPolicy policy_;
  std::chrono::milliseconds current_;
  SteadyClock::time_point next_{};
};

// RFC 6587 section 3.4.1 octet counting: "LEN SP MSG".
void append_octet_counted(std::string& out, std::string_view message);

// Throws std::runtime_error only when a Kafka producer cannot be configured (start-up).
std::unique_ptr<Transport> make_transport(const OutputSpec& spec, const TransportOptions& options = {});

}  // namespace rcptwatch::alert
