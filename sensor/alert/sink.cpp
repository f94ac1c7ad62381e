// JSON-lines sink over a stdio stream.
#include "alert/sink.h"

#include "alert/format_json.h"

namespace rcptwatch::alert {

void JsonLinesSink::write_alert(const Alert& a) {
  buffer_.clear();
  format_json(a, buffer_);
  buffer_.push_back('\n');
  std::fwrite(buffer_.data(), 1, buffer_.size(), stream_);
  ++written_;
}

void JsonLinesSink::write_event_json(std::string_view json) {
  std::fwrite(json.data(), 1, json.size(), stream_);
  std::fputc('\n', stream_);
}

void JsonLinesSink::flush() { std::fflush(stream_); }

}  // namespace rcptwatch::alert
