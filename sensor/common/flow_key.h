// The canonical key of a connection (both directions give the same key) and its hash, for the
// tables keyed by connections: the flow tracker's, the evidence store's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

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
  bool operator==(const FlowKey&) const = default;
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

}  // namespace rcptwatch
