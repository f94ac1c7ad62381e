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
  explicit FlowKeyHash(std::uint64_t seed)
      : s0_(seed), s1_(fmix64(seed ^ 0x243f6a8885a308d3ULL)), s2_(fmix64(seed ^ 0x13198a2e03707344ULL)),
        s3_(fmix64(seed ^ 0xa4093822299f31d0ULL)) {}
  std::size_t operator()(const FlowKey& k) const;

 private:
  std::uint64_t s0_, s1_, s2_, s3_;  // the seed and three secrets drawn from it
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

// The product's two halves folded together (the "mum" step of wyhash): every bit of both
// operands reaches the result.
// (__extension__: the 128-bit type is GCC's and Clang's, which -Wpedantic would flag.)
__extension__ using Uint128 = unsigned __int128;
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
  const Uint128 r = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::size_t FlowKeyHash::operator()(const FlowKey& k) const {
  std::uint64_t words[4];
  std::memcpy(&words[0], k.addr_lo.data(), 16);
  std::memcpy(&words[2], k.addr_hi.data(), 16);
  const std::uint64_t ports = std::uint64_t{k.port_lo} | std::uint64_t{k.port_hi} << 16 |
                              std::uint64_t{static_cast<std::uint8_t>(k.family)} << 32;
  // Each address goes through its own product with secret-keyed words, the two in parallel,
  // then one more product joins them: a packet waits for two multiplies, where the chain of
  // four it replaced made it wait for four in a row. An operand is zero only if the network
  // guesses a secret word, so no key can cancel another's bits.
  const std::uint64_t lo = fold_multiply(words[0] ^ s0_, words[1] ^ s1_);
  const std::uint64_t hi = fold_multiply(words[2] ^ s2_, words[3] ^ s3_);
  return static_cast<std::size_t>(fold_multiply(lo ^ ports ^ s3_, hi ^ s1_));
}

}  // namespace rcptwatch
