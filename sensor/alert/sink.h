// Alert sinks: where formatted events go. The seam that later grows file, syslog and
// queued network outputs; the pipeline only knows this interface.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "alert/alert.h"

namespace rcptwatch::alert {

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void write_alert(const Alert& a) = 0;
  // A pre-formatted JSON event (stats, envelope logs) for outputs that carry them.
  virtual void write_event_json(std::string_view json) = 0;
  virtual void flush() = 0;
};

// Writes JSON lines to a stdio stream (stdout by default). Reuses one buffer.
class JsonLinesSink final : public AlertSink {
 public:
  explicit JsonLinesSink(std::FILE* stream) : stream_(stream) {}
  void write_alert(const Alert& a) override;
  void write_event_json(std::string_view json) override;
  void flush() override;
  std::uint64_t written() const { return written_; }

 private:
  std::FILE* stream_;
  std::string buffer_;
  std::uint64_t written_ = 0;
};

// Sends every alert and event to each of several sinks (one per --output).
class FanoutSink final : public AlertSink {
 public:
  explicit FanoutSink(std::vector<AlertSink*> sinks) : sinks_(std::move(sinks)) {}
  void write_alert(const Alert& a) override {
    for (AlertSink* s : sinks_) s->write_alert(a);
  }
  void write_event_json(std::string_view json) override {
    for (AlertSink* s : sinks_) s->write_event_json(json);
  }
  void flush() override {
    for (AlertSink* s : sinks_) s->flush();
  }

 private:
  std::vector<AlertSink*> sinks_;
};

}  // namespace rcptwatch::alert
