// libFuzzer entry point for FragmentReassembler on its own (no frames around it): the input is
// a script of fragments for a handful of datagrams, with offsets, MF flags and clock steps
// chosen by the fuzzer, against small caps. Checks what the decoder relies on: held bytes stay
// within the cap, and a completed datagram is exactly as long as its fragments said.
#include <cstddef>
#include <cstdint>

#include "decode/fragment_reassembler.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rcptwatch;
  using namespace rcptwatch::decode;

  FragmentLimits limits;
  limits.max_datagrams = 4;
  limits.max_bytes = 8192;
  limits.timeout_usec = 5000;
  limits.max_fragments_per_datagram = 16;
  FragmentReassembler reassembler(limits);
  DecodeCounters counters;

  std::int64_t now = 0;
  std::size_t pos = 0;
  // Record: [flags][offset hi][offset lo][length][length bytes of payload].
  //   flags bits 0-1: which datagram (id); bit 2: MF; bit 3: IPv6 key; bits 4-7: clock step.
  while (pos + 4 <= size) {
    const std::uint8_t flags = data[pos];
    const std::uint32_t offset8 = (std::uint32_t{data[pos + 1]} << 8) | data[pos + 2];
    std::size_t length = data[pos + 3];
    pos += 4;
    if (length > size - pos) length = size - pos;

    FragmentKey key;
    key.id = flags & 0x3u;
    key.protocol = (flags & 0x8u) ? 0 : 6;
    FragmentPiece piece;
    // Offsets are in 8-byte units on the wire; the top bits reach beyond 64 KiB on purpose.
    piece.offset = offset8 * 8u;
    piece.data = Bytes(data + pos, length);
    piece.more_fragments = (flags & 0x4u) != 0;
    piece.next_header = 6;
    pos += length;
    now += (flags >> 4) * 500;

    const FragmentResult r = reassembler.add(key, piece, Timestamp{now}, counters);
    if (reassembler.bytes_held() > limits.max_bytes) __builtin_trap();
    if (reassembler.datagrams_held() > limits.max_datagrams) __builtin_trap();
    if (r.outcome == FragmentOutcome::Complete) {
      // The last fragment (MF clear) fixes the length: it ends exactly where the payload does.
      if (piece.more_fragments) {
        if (r.payload.size() < piece.offset + piece.data.size()) __builtin_trap();
      } else if (r.payload.size() != piece.offset + piece.data.size()) {
        __builtin_trap();
      }
      volatile std::uint8_t sink = 0;
      for (std::uint8_t b : r.payload) sink = static_cast<std::uint8_t>(sink ^ b);
      (void)sink;
    }
  }
  reassembler.expire(Timestamp{now + limits.timeout_usec + 1}, counters);
  if (reassembler.datagrams_held() != 0 || reassembler.bytes_held() != 0) __builtin_trap();
  return 0;
}
