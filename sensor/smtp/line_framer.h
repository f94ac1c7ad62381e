// Line framer for one direction of an SMTP stream: turns arbitrarily chunked bytes into lines.
// Lines end at LF; a CR before it is dropped (CRLF is the rule, bare LF is tolerated). A line
// lying wholly inside the caller's chunk is returned as a view into that chunk (no copy); only
// a line split across chunks is assembled in the framer's own buffer, which never grows beyond
// max_line_bytes + 1. Longer lines are cut to max_line_bytes and flagged `truncated`; the rest
// up to the LF is discarded. Pull-style (one line per call) so the session can switch to body
// or BDAT mode in the middle of a chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rcptwatch::smtp {

class LineFramer {
 public:
  struct Line {
    std::string_view text;  // without CR LF; valid until the next call on this framer
    bool truncated = false;
  };
  struct Step {
    std::size_t consumed = 0;  // bytes of the input used, up to and including the LF
    std::optional<Line> line;  // set when a line was completed
  };

  explicit LineFramer(std::uint32_t max_line_bytes);

  // Consumes `input` up to and including its first LF. Without an LF all of it is consumed
  // and held as a partial line. `input` must not be empty.
  Step next(std::string_view input);

  // A gap destroyed the line in progress: forget it.
  void discard_partial();

  // True when no partial line is held, i.e. the next byte starts a new line.
  bool at_line_start() const;

 private:
  void release_returned_line();
  void append(std::string_view bytes);

  std::uint32_t max_line_bytes_;
  std::string partial_;
  bool overflow_ = false;      // the partial line exceeded max_line_bytes + 1 bytes
  bool partial_returned_ = false;  // partial_ backs the last returned view; clear on next call
};

}  // namespace rcptwatch::smtp
