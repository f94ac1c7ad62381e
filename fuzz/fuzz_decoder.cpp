// libFuzzer entry point for PacketDecoder (fuzz/CMakeLists.txt, RCPTWATCH_FUZZ=ON). The
// first input byte picks the link type and the second the packet time step, so one decoder
// instance sees a sequence of frames and its fragment store, caps and timeouts get exercised
// across calls, not just one-shot parsing.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/decoder.h"

namespace {

constexpr std::array<std::uint32_t, 13> kLinkTypes = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276,
                                                      105, 127, 2};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using rcptwatch::Bytes;
  using rcptwatch::Timestamp;
  using rcptwatch::decode::DecoderLimits;
  using rcptwatch::decode::PacketDecoder;
  using rcptwatch::decode::TcpSegment;

  if (size < 2) {
    return 0;
  }
  DecoderLimits limits;
  limits.max_fragment_datagrams = 8;  // small caps so the fuzzer reaches them
  limits.max_fragment_bytes = 4096;
  limits.fragment_timeout_usec = 1000;
  PacketDecoder decoder(limits);

  const std::uint32_t link = kLinkTypes[data[0] % kLinkTypes.size()];
  const std::int64_t step = data[1];
  Bytes input(data + 2, size - 2);
  // Frames are length-prefixed (one byte) so a single input can hold several fragments.
  std::int64_t now = 0;
  while (!input.empty()) {
    const std::size_t len = std::min<std::size_t>(input[0], input.size() - 1);
    const Bytes frame = input.subspan(1, len);
    TcpSegment seg;
    if (decoder.decode(link, frame, Timestamp{now}, seg) == rcptwatch::decode::DecodeStatus::Tcp) {
      // Touch every payload byte so a bad view shows up under ASan.
      volatile std::uint8_t sink = 0;
      for (std::uint8_t b : seg.payload) {
        sink = static_cast<std::uint8_t>(sink ^ b);
      }
      (void)sink;
    }
    input = input.subspan(1 + len);
    now += step * 10;
  }
  return 0;
}
