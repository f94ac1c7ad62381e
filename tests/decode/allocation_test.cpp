// Proves the hot path allocates nothing: global operator new is replaced with a counting one,
// and decoding non-fragment packets of every kind must leave the count unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "decode/decoder.h"
#include "frame_builder.h"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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
  const std::size_t before = g_allocations.load();
  for (int round = 0; round < 100; ++round) {
    for (const auto& [link, frame] : frames) {
      d.decode(link, view(frame), Timestamp{round}, seg);
    }
  }
  const std::size_t after = g_allocations.load();
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
  const std::size_t before = g_allocations.load();
  EXPECT_EQ(d.decode(101, view(frag), Timestamp{1}, seg), DecodeStatus::FragmentHeld);
  EXPECT_GT(g_allocations.load(), before);
}

}  // namespace
}  // namespace rcptwatch::decode
