// Bounded queue + sender thread per output; see queued_sink.h for the delivery contract.
#include "alert/queued_sink.h"

#include <chrono>
#include <optional>

namespace rcptwatch::alert {
namespace {

// While messages wait for a TCP acknowledgement the sender wakes this often to collect acks,
// notice a closed peer and reconnect.
constexpr std::chrono::milliseconds kServiceInterval{20};

Timestamp wall_clock_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(now).count()};
}

constexpr std::uint8_t kSyslogInfo = 6;

void wrap_event_rfc5424(std::string_view json, const FormatContext& ctx, std::string& out) {
  append_rfc5424_header(out, ctx, kSyslogInfo, wall_clock_now(), "STATS");
  out += " - \xEF\xBB\xBF";
  out += json;
}

void wrap_event_rfc3164(std::string_view json, const FormatContext& ctx, std::string& out) {
  append_rfc3164_header(out, ctx, kSyslogInfo, wall_clock_now());
  out += json;
}

}  // namespace

QueuedSink::QueuedSink(const OutputSpec& spec, FormatContext context, QueuedSinkOptions options)
    : QueuedSink(make_transport(spec, options.transport), spec.format, std::move(context),
                 options) {}

QueuedSink::QueuedSink(std::unique_ptr<Transport> transport, Format format, FormatContext context,
                       QueuedSinkOptions options)
    : transport_(std::move(transport)),
      format_(format),
      context_(std::move(context)),
      options_(options),
      sender_([this] { run(); }) {}

QueuedSink::~QueuedSink() { close(SteadyClock::now() + options_.flush_timeout); }

void QueuedSink::enqueue(Item item) {
  {
    std::unique_lock lk(mu_);
    ++enqueued_;
    if (options_.block_when_full && options_.capacity > 0) {
      space_cv_.wait(lk, [this] { return closed_ || stop_ || queue_.size() < options_.capacity; });
    }
    if (closed_) {
      ++dropped_other_;
      return;
    }
    if (options_.capacity == 0) {
      ++dropped_overflow_;
      return;
    }
    if (queue_.size() >= options_.capacity) {
      queue_.pop_front();
      ++dropped_overflow_;
    }
    queue_.push_back(std::move(item));
  }
  work_cv_.notify_one();
}

void QueuedSink::write_alert(const Alert& a) { enqueue(Item(std::in_place_index<0>, a)); }

void QueuedSink::write_event_json(std::string_view json) {
  if (format_ == Format::Cef || format_ == Format::Leef) {
    std::lock_guard lk(mu_);
    ++events_skipped_;
    return;
  }
  enqueue(Item(std::in_place_index<1>, std::string(json)));
}

void QueuedSink::flush() { flush_until(SteadyClock::now() + options_.flush_timeout); }

bool QueuedSink::flush_until(SteadyClock::time_point deadline) {
  std::unique_lock lk(mu_);
  return idle_cv_.wait_until(lk, deadline, [this] {
    return stop_ || (queue_.empty() && !in_flight_ && unacknowledged_ == 0);
  }) && queue_.empty() && !in_flight_ && unacknowledged_ == 0;
}

void QueuedSink::close(SteadyClock::time_point deadline) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
  }
  flush_until(deadline);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    closed_ = true;
  }
  work_cv_.notify_all();
  idle_cv_.notify_all();
  space_cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

void QueuedSink::request_reopen() {
  {
    std::lock_guard lk(mu_);
    reopen_ = true;
  }
  work_cv_.notify_one();
}

OutputStats QueuedSink::stats() const {
  OutputStats s;
  const TransportCounters& c = transport_->counters();
  std::lock_guard lk(mu_);
  s.enqueued = enqueued_;
  s.sent = c.delivered.load();
  s.dropped_overflow = dropped_overflow_;
  s.dropped = dropped_overflow_ + dropped_other_ + c.lost.load();
  s.reconnects = c.reconnects.load();
  s.resent = c.resent.load();
  s.errors = c.errors.load();
  s.events_skipped = events_skipped_;
  s.queued = queue_.size() + (in_flight_ ? 1 : 0) + unacknowledged_;
  return s;
}

bool QueuedSink::render(const Item& item, std::string& out) {
  out.clear();
  if (const Alert* a = std::get_if<Alert>(&item)) {
    format_alert(format_, *a, context_, out);
    return true;
  }
  const std::string& json = std::get<std::string>(item);
  switch (format_) {
    case Format::Json: out = json; return true;
    case Format::Rfc5424: wrap_event_rfc5424(json, context_, out); return true;
    case Format::Rfc3164: wrap_event_rfc3164(json, context_, out); return true;
    case Format::Cef:
    case Format::Leef: return false;
  }
  return false;
}

void QueuedSink::run() {
  std::optional<Item> current;
  std::string message;
  for (;;) {
    bool reopen = false;
    {
      std::unique_lock lk(mu_);
      unacknowledged_ = transport_->unacknowledged();
      if (!current && queue_.empty() && unacknowledged_ == 0) idle_cv_.notify_all();
      const auto has_work = [this] { return stop_ || reopen_ || !queue_.empty(); };
      if (!current) {
        if (unacknowledged_ > 0) {
          work_cv_.wait_for(lk, kServiceInterval, has_work);
        } else {
          work_cv_.wait(lk, has_work);
        }
      } else {
        // A message the output refused: wait until it may take it, or until shutdown.
        work_cv_.wait_until(lk, transport_->retry_at(), [this] { return stop_ || reopen_; });
      }
      if (stop_) {
        dropped_other_ += queue_.size() + (current ? 1 : 0);
        queue_.clear();
        space_cv_.notify_all();
        in_flight_ = false;
        break;
      }
      reopen = std::exchange(reopen_, false);
      if (!current && !queue_.empty()) {
        current = std::move(queue_.front());
        queue_.pop_front();
        space_cv_.notify_one();
        in_flight_ = true;
        if (!render(*current, message)) {
          current.reset();
          in_flight_ = false;
          continue;
        }
      }
    }
    if (reopen) transport_->reopen();
    if (!current) {
      transport_->service();
      continue;
    }
    const SendStatus status = transport_->send(message);
    if (status == SendStatus::Retry) continue;
    current.reset();
    std::lock_guard lk(mu_);
    in_flight_ = false;
  }
  transport_->abandon();
  std::lock_guard lk(mu_);
  unacknowledged_ = 0;
  idle_cv_.notify_all();
}

}  // namespace rcptwatch::alert
