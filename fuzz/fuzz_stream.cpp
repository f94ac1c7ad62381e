// libFuzzer entry point for StreamReassembler: the input becomes a sequence of segments
// (sequence number relative to the ISN, payload) and control calls (SYN, skip, flush, reset)
// for one direction. Checks the stream's bookkeeping: every byte of stream offset is handed to
// the sink exactly once as data or gap, and the buffer never exceeds its cap.
#include <cstddef>
#include <cstdint>

#include "reassembly/stream_reassembler.h"

namespace {

using rcptwatch::Bytes;
using namespace rcptwatch::reassembly;

class CountingSink final : public StreamSink {
 public:
  void on_data(Bytes data) override {
    if (data.empty()) __builtin_trap();
    volatile std::uint8_t x = 0;
    for (std::uint8_t b : data) x = static_cast<std::uint8_t>(x ^ b);
    (void)x;
    delivered += data.size();
  }
  void on_gap(std::uint64_t length) override {
    if (length == 0) __builtin_trap();
    delivered += length;
  }
  void on_conflict(Bytes alternative, std::uint64_t offset_back) override {
    // The alternative describes bytes already delivered.
    if (offset_back > delivered || alternative.empty()) __builtin_trap();
  }
  std::uint64_t delivered = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  ReassemblyLimits limits;
  limits.max_buffered_bytes = 1024;
  limits.delivered_tail_bytes = data[0] & 1u ? 64 : 0;
  ReassemblyCounters counters;
  StreamReassembler stream(limits, counters);
  CountingSink sink;
  const std::uint32_t isn = (std::uint32_t{data[1]} << 24) | (std::uint32_t{data[2]} << 16) |
                            (std::uint32_t{data[3]} << 8) | data[4];

  std::size_t pos = 5;
  // Record: [op][seq hi][seq lo][length][length payload bytes]. op & 7 == 0..4: a segment
  // at isn + 1 + (seq << (op >> 3)) (shifts up to 31, so jumps of 2^31 happen); 5: SYN;
  // 6: skip_to_buffered; 7: flush (and reset when the top bit is set).
  while (pos + 4 <= size) {
    const std::uint8_t op = data[pos];
    const std::uint32_t rel = (std::uint32_t{data[pos + 1]} << 8) | data[pos + 2];
    std::size_t length = data[pos + 3];
    pos += 4;
    switch (op & 7u) {
      case 5:
        stream.set_initial_sequence(isn);
        continue;
      case 6:
        stream.skip_to_buffered(sink, (op & 0x80u) != 0);
        break;
      case 7:
        stream.flush(sink);
        if (stream.buffered_bytes() != 0) __builtin_trap();
        if (op & 0x80u) {
          stream.reset();
          sink.delivered = 0;
        }
        break;
      default: {
        if (length > size - pos) length = size - pos;
        const std::uint32_t shift = (op >> 3) & 31u;
        const std::uint32_t seq = isn + 1u + (rel << shift);
        stream.insert(seq, Bytes(data + pos, length), sink);
        pos += length;
        break;
      }
    }
    if (stream.delivered_offset() != sink.delivered) __builtin_trap();
    if (stream.buffered_bytes() != counters.buffered_bytes) __builtin_trap();
    // One segment may land before the cap is enforced: at most the cap plus one segment.
    if (stream.buffered_bytes() > limits.max_buffered_bytes + 255u * 2u) __builtin_trap();
  }
  stream.flush(sink);
  if (stream.delivered_offset() != sink.delivered) __builtin_trap();
  return 0;
}
