// IP fragment reassembly (IPv4 per RFC 791, IPv6 per RFC 8200) with bounded memory. Used by
// PacketDecoder; kept as its own class so the hole/overlap/cap logic is testable without frames.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "common/types.h"
#include "decode/decoder.h"

namespace rcptwatch::decode {

// Fragments belong to the same datagram when these agree. IPv4 keys on (src, dst, id, protocol);
// IPv6 keys on (src, dst, identification) and leaves `protocol` at 0, because the upper-layer
// protocol is only named in the first fragment.
struct FragmentKey {
  IpAddress src;
  IpAddress dst;
  std::uint32_t id = 0;
  std::uint8_t protocol = 0;

  constexpr auto operator<=>(const FragmentKey&) const = default;
};

// One fragment's share of the datagram: `data` starts `offset` bytes into the fragmentable part.
struct FragmentPiece {
  std::uint32_t offset = 0;
  Bytes data;
  bool more_fragments = false;
  // IPv6: the Next Header of the Fragment header. Only the offset-0 fragment's value counts,
  // since it names what the reassembled payload starts with.
  std::uint8_t next_header = 0;
};

enum class FragmentOutcome : std::uint8_t {
  Held,       // stored; datagram still has holes
  Complete,   // `payload` holds the whole reassembled datagram payload
  Dropped,    // not stored (cap hit or inconsistent datagram); counted in fragments_dropped
  Malformed,  // the fragment itself is invalid (length not a multiple of 8, beyond 64 KiB)
};

struct FragmentResult {
  FragmentOutcome outcome = FragmentOutcome::Held;
  // Complete only: the reassembled payload, valid until the next call to add().
  Bytes payload;
  // Complete only: the offset-0 fragment's next_header (IPv6).
  std::uint8_t first_next_header = 0;
};

struct FragmentLimits {
  std::uint32_t max_datagrams = 4096;
  std::uint32_t max_bytes = 16u << 20;
  std::int64_t timeout_usec = 30'000'000;
  // Bounds the work per datagram: every fragment walks the list of received ranges.
  std::uint32_t max_fragments_per_datagram = 2048;
};

class FragmentReassembler {
 public:
  explicit FragmentReassembler(FragmentLimits limits) : limits_(limits) {}

  // Adds one fragment received at `now`. Counters touched: fragments_dropped (fragments that
  // will never be part of a completed datagram), fragments_overlap, fragment_datagrams_expired,
  // fragments_reassembled.
  // noinline (also for expire): the decoder is [[gnu::flatten]], and with link-time
  // optimisation flattening would pull the whole reassembler (std::map and all) into its
  // per-packet function, which is rare work; GCC 12's jump threading then took two minutes.
  [[gnu::noinline]] FragmentResult add(const FragmentKey& key, const FragmentPiece& piece, Timestamp now,
                                       DecodeCounters& counters);

  // Discards datagrams whose first fragment is older than the timeout.
  [[gnu::noinline]] void expire(Timestamp now, DecodeCounters& counters);

  std::size_t datagrams_held() const { return datagrams_.size(); }
  std::size_t bytes_held() const { return bytes_held_; }

 private:
  struct Range {
    std::uint32_t begin;
    std::uint32_t end;
  };
  struct Datagram {
    std::vector<std::uint8_t> data;  // sized to the highest byte received so far
    std::vector<Range> received;     // sorted, disjoint, non-adjacent: holes are the gaps
    std::int64_t deadline_usec = 0;
    std::int64_t total_length = -1;  // known once the last fragment (MF clear) arrived
    std::uint32_t fragment_count = 0;
    std::uint8_t first_next_header = 0;
  };
  using DatagramMap = std::map<FragmentKey, Datagram>;

  void discard(DatagramMap::iterator it, DecodeCounters& counters);
  static bool copy_uncovered(Datagram& d, std::uint32_t offset, Bytes data);

  FragmentLimits limits_;
  DatagramMap datagrams_;
  std::set<std::pair<std::int64_t, FragmentKey>> by_deadline_;
  std::size_t bytes_held_ = 0;
  std::vector<std::uint8_t> completed_;  // the last completed datagram, handed out as a view
};

}  // namespace rcptwatch::decode
