// Canonical connection keys and their seeded hash; see flow_key.h.
#include "common/flow_key.h"

#include <cstring>
#include <random>

#include "common/hash.h"

namespace rcptwatch {
namespace {

// Any total order over endpoints makes the key canonical: two word comparisons, not a
// byte-wise lexicographic one.
bool endpoint_first(const IpAddress& a, std::uint16_t port_a, const IpAddress& b,
                    std::uint16_t port_b) {
  std::uint64_t wa[2];
  std::uint64_t wb[2];
  std::memcpy(wa, a.bytes.data(), sizeof wa);
  std::memcpy(wb, b.bytes.data(), sizeof wb);
  if (wa[0] != wb[0]) return wa[0] < wb[0];
  if (wa[1] != wb[1]) return wa[1] < wb[1];
  return port_a <= port_b;
}

}  // namespace

FlowKey FlowKey::of(const IpAddress& a, std::uint16_t port_a, const IpAddress& b,
                    std::uint16_t port_b) {
  FlowKey k;
  k.family = a.family;
  const bool a_first = endpoint_first(a, port_a, b, port_b);
  const IpAddress& lo = a_first ? a : b;
  const IpAddress& hi = a_first ? b : a;
  k.addr_lo = lo.bytes;
  k.addr_hi = hi.bytes;
  k.port_lo = a_first ? port_a : port_b;
  k.port_hi = a_first ? port_b : port_a;
  return k;
}

FlowKeyHash::FlowKeyHash() : seed_((std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

std::size_t FlowKeyHash::operator()(const FlowKey& k) const {
  std::uint64_t words[4];
  std::memcpy(&words[0], k.addr_lo.data(), 16);
  std::memcpy(&words[2], k.addr_hi.data(), 16);
  std::uint64_t h = seed_ ^ (std::uint64_t{k.port_lo} | std::uint64_t{k.port_hi} << 16 |
                             std::uint64_t{static_cast<std::uint8_t>(k.family)} << 32);
  // One multiply per word, a full finaliser at the end: the seed still reaches every bit.
  for (std::uint64_t w : words) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
  }
  return static_cast<std::size_t>(fmix64(h));
}

}  // namespace rcptwatch
