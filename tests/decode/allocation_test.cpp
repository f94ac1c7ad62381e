// Proves the hot path allocates nothing: global operator new is replaced with a counting one
// (counting_allocator.cpp), and decoding non-fragment packets of every kind must leave the
// count unchanged.
#include <gtest/gtest.h>

#include "decode/decoder.h"
#include "frame_builder.h"

namespace rcptwatch::decode::testing {
std::size_t allocation_count();  // counting_allocator.cpp
}  // namespace rcptwatch::decode::testing

namespace rcptwatch::decode {
namespace {

using namespace testing;  // NOLINT: the frame builders

TEST(DecoderAllocation, NonFragmentPacketsAllocateNothing) {
  Ipv6Spec hbh;
  hbh.next_header = 0;
  Ipv4Spec udp;
  udp.protocol = 17;
  const std::vector<std::pair<std::uint32_t, Buf>> frames = {
      {1, ethernet(0x0800, view(ipv4({}, view(tcp()))), {{0x88A8, 1}, {0x8100, 2}})},
      {1, ethernet(0x86DD, view(ipv6(hbh, view(concat({view(ipv6_ext(6)), view(tcp())})))))},
      {1, ethernet(0x0806, view(Buf(28, 0)))},
      {113, sll(0x0800, view(ipv4(udp, view(tcp()))))},
      {276, sll2(0x86DD, view(ipv6({}, view(tcp()))))},
      {0, null_le(2, view(ipv4({}, view(tcp()))))},
      {101, Buf(7, 0x45)},
      {127, Buf(60, 0)},
  };
  PacketDecoder d;
  TcpSegment seg;
  const std::size_t before = allocation_count();
  for (int round = 0; round < 100; ++round) {
    for (const auto& [link, frame] : frames) {
      d.decode(link, view(frame), Timestamp{round}, seg);
    }
  }
  const std::size_t after = allocation_count();
  EXPECT_EQ(after, before);
  EXPECT_EQ(d.counters().packets, 100u * frames.size());
  EXPECT_EQ(d.counters().tcp, 100u * 4);
}

TEST(DecoderAllocation, CountingAllocatorSeesFragments) {
  // Guards the test above against a counter that never moves.
  Ipv4Spec s;
  s.more_fragments = true;
  const Buf frag = ipv4(s, view(Buf(16, 'x')));
  PacketDecoder d;
  TcpSegment seg;
  const std::size_t before = allocation_count();
  EXPECT_EQ(d.decode(101, view(frag), Timestamp{1}, seg), DecodeStatus::FragmentHeld);
  EXPECT_GT(allocation_count(), before);
}

}  // namespace
}  // namespace rcptwatch::decode
