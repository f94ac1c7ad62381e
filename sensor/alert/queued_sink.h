// QueuedSink: one output (a transport plus its format) behind a bounded queue and a sender
// thread, so that the capture path never waits on a file system or a network peer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "alert/formats.h"
#include "alert/output_spec.h"
#include "alert/sink.h"
#include "alert/transport.h"

namespace rcptwatch::alert {

struct QueuedSinkOptions {
  std::size_t capacity = 10'000;                  // queued items; beyond it the oldest is dropped
  std::chrono::milliseconds flush_timeout{5'000};  // flush() and the destructor wait this long
  // Replays want every alert and have no real-time deadline: when set, a full queue makes
  // write_* wait for space instead of dropping the oldest item. Live capture leaves it off.
  bool block_when_full = false;
  TransportOptions transport;
};

// A snapshot of one output's counters, for the stats event.
struct OutputStats {
  std::uint64_t enqueued = 0;        // alerts and events accepted by write_*
  std::uint64_t sent = 0;            // delivered (tcp: acknowledged by the peer)
  std::uint64_t dropped = 0;         // overflow + left at shutdown + given up by the transport
  std::uint64_t dropped_overflow = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t resent = 0;
  std::uint64_t errors = 0;
  std::uint64_t events_skipped = 0;  // JSON events an output of this format does not carry
  std::uint64_t queued = 0;          // waiting now (queue + in flight + unacknowledged)
};

class QueuedSink final : public AlertSink {
 public:
  // Builds the transport from the spec. Nothing touches the network here: connecting is the
  // sender thread's job, so an unreachable collector never delays start-up.
  QueuedSink(const OutputSpec& spec, FormatContext context, QueuedSinkOptions options = {});
  // For tests and custom transports.
  QueuedSink(std::unique_ptr<Transport> transport, Format format, FormatContext context,
             QueuedSinkOptions options = {});
  ~QueuedSink() override;  // close(now + flush_timeout)

  QueuedSink(const QueuedSink&) = delete;
  QueuedSink& operator=(const QueuedSink&) = delete;

  // Never blocks on the output: copies the alert into the queue (dropping the oldest if full).
  void write_alert(const Alert& a) override;
  // Stats and other JSON events. json outputs carry them as lines; rfc5424 and rfc3164
  // outputs wrap them in a syslog message (MSGID "STATS", severity info) with the JSON as
  // the message; cef and leef outputs skip them (counted in events_skipped), since a SIEM
  // would parse them as malformed alerts.
  void write_event_json(std::string_view json) override;
  // Waits up to flush_timeout for everything queued to be delivered.
  void flush() override;
  // Waits until everything enqueued so far is delivered or the deadline passes; true if all was.
  bool flush_until(SteadyClock::time_point deadline);
  // Drains until the deadline, stops the sender thread and counts what is left as dropped.
  // Later writes are counted as dropped. Idempotent.
  void close(SteadyClock::time_point deadline);
  // Reopen a file output (SIGHUP after logrotate). Safe to call from any thread, not from a
  // signal handler.
  void request_reopen();

  OutputStats stats() const;
  Format format() const { return format_; }

 private:
  using Item = std::variant<Alert, std::string>;

  void run();
  void enqueue(Item item);
  // Formats an item into `out`; false when this output does not carry it.
  bool render(const Item& item, std::string& out);

  std::unique_ptr<Transport> transport_;
  const Format format_;
  const FormatContext context_;
  const QueuedSinkOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // wakes the sender
  std::condition_variable idle_cv_;  // wakes flushers
  std::condition_variable space_cv_;  // wakes writers blocked on a full queue
  std::deque<Item> queue_;
  bool in_flight_ = false;          // the sender holds an item taken from the queue
  std::size_t unacknowledged_ = 0;  // published by the sender after each step
  bool reopen_ = false;
  bool stop_ = false;
  bool closed_ = false;
  std::uint64_t enqueued_ = 0;
  std::uint64_t dropped_overflow_ = 0;
  std::uint64_t dropped_other_ = 0;
  std::uint64_t events_skipped_ = 0;

  std::thread sender_;  // last: starts after every member above is ready
};

}  // namespace rcptwatch::alert
