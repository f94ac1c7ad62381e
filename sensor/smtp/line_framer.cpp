// Line framer; see line_framer.h. The buffer keeps max_line_bytes + 1 bytes so that a line of
// exactly max_line_bytes followed by CR LF split across chunks is not mistaken for an overlong
// one: both the in-chunk and the buffered path then give the same result for every split.
#include "smtp/line_framer.h"

#include <algorithm>
#include <cstring>

namespace rcptwatch::smtp {

LineFramer::LineFramer(std::uint32_t max_line_bytes)
    : max_line_bytes_(std::max<std::uint32_t>(1, max_line_bytes)) {}

void LineFramer::release_returned_line() {
  if (partial_returned_) {
    partial_.clear();  // keeps capacity: no allocation per line
    overflow_ = false;
    partial_returned_ = false;
  }
}

void LineFramer::append(std::string_view bytes) {
  const std::size_t cap = static_cast<std::size_t>(max_line_bytes_) + 1;
  const std::size_t room = cap - std::min(cap, partial_.size());
  if (bytes.size() > room) {
    partial_.append(bytes.substr(0, room));
    overflow_ = true;
  } else {
    partial_.append(bytes);
  }
}

LineFramer::Step LineFramer::next(std::string_view input) {
  release_returned_line();
  Step step;
  const void* lf = std::memchr(input.data(), '\n', input.size());
  if (lf == nullptr) {
    append(input);
    step.consumed = input.size();
    return step;
  }
  const auto length = static_cast<std::size_t>(static_cast<const char*>(lf) - input.data());
  step.consumed = length + 1;

  std::string_view text;
  bool truncated = false;
  if (partial_.empty() && !overflow_) {
    text = input.substr(0, length);
  } else {
    append(input.substr(0, length));
    text = partial_;
    truncated = overflow_;
    partial_returned_ = true;
  }
  if (!truncated && !text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (truncated || text.size() > max_line_bytes_) {
    text = text.substr(0, max_line_bytes_);
    truncated = true;
  }
  step.line = Line{text, truncated};
  return step;
}

void LineFramer::discard_partial() {
  partial_.clear();
  overflow_ = false;
  partial_returned_ = false;
}

bool LineFramer::at_line_start() const {
  return partial_returned_ || (partial_.empty() && !overflow_);
}

}  // namespace rcptwatch::smtp
