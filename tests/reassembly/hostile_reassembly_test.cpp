// Regression tests from the hostile-traffic work (issue 10): floods of tiny out-of-order
// segments must be bounded by segment count, not only by payload bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "reassembly/stream_reassembler.h"

namespace rcptwatch::reassembly {
namespace {

class CountingSink final : public StreamSink {
 public:
  void on_data(Bytes data) override { data_bytes += data.size(); }
  void on_gap(std::uint64_t length) override {
    gap_bytes += length;
    ++gaps;
  }
  void on_conflict(Bytes, std::uint64_t) override { ++conflicts; }
  std::uint64_t data_bytes = 0;
  std::uint64_t gap_bytes = 0;
  std::uint64_t gaps = 0;
  std::uint64_t conflicts = 0;
};

// Found by tests/hostile ooo-tiny: a million one-byte segments with a hole before each stayed
// under the 1 MiB byte cap while the map holding them grew past 120 MiB.
TEST(HostileReassembly, OneByteSegmentsWithHolesAreCappedByCount) {
  ReassemblyLimits limits;  // default byte cap: 1 MiB, far above what this test buffers
  limits.max_buffered_segments = 256;
  ReassemblyCounters counters;
  StreamReassembler r(limits, counters);
  CountingSink sink;
  r.set_initial_sequence(1000);
  const std::uint8_t byte = 'x';
  constexpr std::uint32_t kSegments = 20000;
  for (std::uint32_t k = 0; k < kSegments; ++k) {
    // Offsets 1, 3, 5, ... in a scrambled order: every segment sits alone between two holes.
    const std::uint32_t j = (k * 7919u) % kSegments;
    r.insert(1001u + 1u + 2u * j, Bytes(&byte, 1), sink);
    ASSERT_LE(r.buffered_segments(), limits.max_buffered_segments);
  }
  EXPECT_GT(counters.buffer_cap_drops, 0u);
  EXPECT_GT(sink.gaps, 0u);
  EXPECT_LE(r.buffered_bytes(), limits.max_buffered_segments);
  r.flush(sink);
  EXPECT_EQ(r.buffered_segments(), 0u);
  EXPECT_EQ(counters.buffered_bytes, 0u);
  EXPECT_EQ(sink.data_bytes + sink.gap_bytes, r.delivered_offset());
}

TEST(HostileReassembly, SegmentCapLeavesOrdinaryReorderingAlone) {
  ReassemblyLimits limits;
  ReassemblyCounters counters;
  StreamReassembler r(limits, counters);
  CountingSink sink;
  r.set_initial_sequence(0);
  std::vector<std::uint8_t> payload(1000, 'a');
  // 500 segments of 1000 bytes in reverse order: 500 KB, all held, then delivered whole.
  for (std::uint32_t i = 500; i-- > 0;) r.insert(1 + i * 1000, Bytes(payload), sink);
  EXPECT_EQ(counters.buffer_cap_drops, 0u);
  EXPECT_EQ(sink.gaps, 0u);
  EXPECT_EQ(sink.data_bytes, 500'000u);
}

}  // namespace
}  // namespace rcptwatch::reassembly
