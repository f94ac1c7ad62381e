// The canonical key of a connection (both directions give the same key) and its hash, for the
// tables keyed by connections: the flow tracker's, the evidence store's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/hash.h"
#include "common/types.h"

namespace rcptwatch {

struct FlowKey {
  std::array<std::uint8_t, 16> addr_lo{};  // the lower endpoint (address, then port) first
  std::array<std::uint8_t, 16> addr_hi{};
  std::uint16_t port_lo = 0;
  std::uint16_t port_hi = 0;
  IpAddress::Family family = IpAddress::Family::V4;

  // The same key for (a, port_a, b, port_b) and (b, port_b, a, port_a).
  static FlowKey of(const IpAddress& a, std::uint16_t port_a, const IpAddress& b,
                    std::uint16_t port_b);
  // Word compares, not the memcmp calls the defaulted one makes: it runs per packet.
  bool operator==(const FlowKey& o) const {
    std::uint64_t a[4];
    std::uint64_t b[4];
    std::memcpy(&a[0], addr_lo.data(), 16);
    std::memcpy(&a[2], addr_hi.data(), 16);
    std::memcpy(&b[0], o.addr_lo.data(), 16);
    std::memcpy(&b[2], o.addr_hi.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0 && port_lo == o.port_lo &&
           port_hi == o.port_hi && family == o.family;
  }
};

// Keys come from the network, so the hash is seeded per table against collision flooding.
class FlowKeyHash {
 public:
  FlowKeyHash();  // a random seed
  explicit FlowKeyHash(std::uint64_t seed) : seed_(seed) {}
  std::size_t operator()(const FlowKey& k) const;

 private:
  std::uint64_t seed_;
};

// Inline: both run once per packet, inside the tables' lookups.
inline FlowKey FlowKey::of(const IpAddress& a, std::uint16_t port_a, const IpAddress& b,
                           std::uint16_t port_b) {
  // Any total order over endpoints makes the key canonical: two word comparisons, not a
  // byte-wise lexicographic one.
  std::uint64_t wa[2];
  std::uint64_t wb[2];
  std::memcpy(wa, a.bytes.data(), sizeof wa);
  std::memcpy(wb, b.bytes.data(), sizeof wb);
  const bool a_first = wa[0] != wb[0] ? wa[0] < wb[0] : wa[1] != wb[1] ? wa[1] < wb[1] : port_a <= port_b;
  FlowKey k;
  k.family = a.family;
  k.addr_lo = a_first ? a.bytes : b.bytes;
  k.addr_hi = a_first ? b.bytes : a.bytes;
  k.port_lo = a_first ? port_a : port_b;
  k.port_hi = a_first ? port_b : port_a;
  return k;
}

inline std::size_t FlowKeyHash::operator()(const FlowKey& k) const {
  std::uint64_t words[4];
  std::memcpy(&words[0], k.addr_lo.data(), 16);
  std::memcpy(&words[2], k.addr_hi.data(), 16);
  std::uint64_t h = seed_ ^ (std::uint64_t{k.port_lo} | std::uint64_t{k.port_hi} << 16 |
                             std::uint64_t{static_cast<std::uint8_t>(k.family)} << 32);
  // One multiply per word, a full finaliser at the end: the seed still reaches every bit.
  // Written out: GCC kept the four-step loop as a loop.
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  h = (h ^ words[0]) * kMul;
  h ^= h >> 32;
  h = (h ^ words[1]) * kMul;
  h ^= h >> 32;
  h = (h ^ words[2]) * kMul;
  h ^= h >> 32;
  h = (h ^ words[3]) * kMul;
  h ^= h >> 32;
  return static_cast<std::size_t>(fmix64(h));
}

}  // namespace rcptwatch
