// Value types shared by every pipeline stage: byte views, packet time, IP addresses.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace rcptwatch {

// A read-only view of bytes owned by the caller (a capture buffer, a reassembly buffer).
using Bytes = std::span<const std::uint8_t>;

// Packet time in microseconds since the Unix epoch. All timeouts run on packet time, never on
// the wall clock, so replays are deterministic.
struct Timestamp {
  std::int64_t usec = 0;

  static constexpr Timestamp from_seconds(std::int64_t s) { return Timestamp{s * 1'000'000}; }
  constexpr auto operator<=>(const Timestamp&) const = default;
};

// RFC 3339 UTC with microseconds, e.g. "2023-07-17T08:15:30.123456Z".
std::string format_rfc3339(Timestamp ts);

// An IPv4 or IPv6 address. IPv4 addresses use the first four bytes; the rest stay zero so
// that comparison and hashing need no special case.
struct IpAddress {
  enum class Family : std::uint8_t { V4 = 4, V6 = 6 };

  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(const std::uint8_t* p);
  static IpAddress v6(const std::uint8_t* p);
  // In place, as two 8-byte stores: a later 8-byte load of either half (FlowKey::of, the
  // compare below) is forwarded from its store. Building a temporary by v4() and copying it
  // writes 1+4+8+4 bytes and reads 16 back, which no store forwards (about 15 cycles per
  // address on the decoder's fast path).
  void assign_v4(const std::uint8_t* p);

  std::string to_string() const;  // dotted quad, or RFC 5952 text for IPv6
  constexpr auto operator<=>(const IpAddress&) const = default;
  // Two word compares, not the memcmp call the defaulted one makes: it runs per packet.
  constexpr bool operator==(const IpAddress& o) const {
    if (std::is_constant_evaluated()) return family == o.family && bytes == o.bytes;
    std::uint64_t a[2];
    std::uint64_t b[2];
    std::memcpy(a, bytes.data(), sizeof a);
    std::memcpy(b, o.bytes.data(), sizeof b);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && family == o.family;
  }
};

// Inline: the decoder builds two per packet.
inline IpAddress IpAddress::v4(const std::uint8_t* p) {
  IpAddress a;
  a.family = Family::V4;
  std::memcpy(a.bytes.data(), p, 4);
  return a;
}

inline void IpAddress::assign_v4(const std::uint8_t* p) {
  family = Family::V4;
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  const std::uint64_t lo = w;
  const std::uint64_t hi = 0;
  std::memcpy(bytes.data(), &lo, 8);
  std::memcpy(bytes.data() + 8, &hi, 8);
}

inline IpAddress IpAddress::v6(const std::uint8_t* p) {
  IpAddress a;
  a.family = Family::V6;
  std::memcpy(a.bytes.data(), p, 16);
  return a;
}

}  // namespace rcptwatch
