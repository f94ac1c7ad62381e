// Direction of an SMTP connection relative to the home networks (--home-net), as Suricata and
// ECS name it: which connections leave the organisation, which only relay inside it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "common/cidr.h"
#include "common/types.h"

namespace rcptwatch::fleet {

enum class Direction : std::uint8_t {
  Unknown,   // no home networks configured
  Outbound,  // client at home, server outside: mail leaving
  Inbound,   // client outside, server at home: mail arriving
  Internal,  // both at home: a relay hop inside the organisation
  External,  // neither at home: transit traffic the tap happens to see
};

std::string_view to_string(Direction d);

// The direction of a connection from `client` to `server`; Unknown when `home` is empty.
Direction classify_direction(const CidrSet& home, const IpAddress& client, const IpAddress& server);

// Which directions are judged (--judge-directions). A small bit set, cheap to copy.
class DirectionSet {
 public:
  static DirectionSet all() { return DirectionSet(0x1F); }
  // Outbound and internal: mail that leaves, or is relayed towards a host that sends it out.
  static DirectionSet defaults() { return DirectionSet(bit(Direction::Outbound) | bit(Direction::Internal)); }

  bool contains(Direction d) const { return (bits_ & bit(d)) != 0; }
  void add(Direction d) { bits_ = static_cast<std::uint8_t>(bits_ | bit(d)); }
  std::string to_string() const;  // "outbound,internal"
  bool operator==(const DirectionSet&) const = default;

 private:
  explicit DirectionSet(std::uint8_t bits = 0) : bits_(bits) {}
  static std::uint8_t bit(Direction d) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(d)); }
  std::uint8_t bits_ = 0;

  friend tl::expected<DirectionSet, std::string> parse_direction_list(std::string_view);
};

// "outbound,internal" (names as to_string(Direction) prints them, or "all"); errors name the
// bad element.
tl::expected<DirectionSet, std::string> parse_direction_list(std::string_view list);

}  // namespace rcptwatch::fleet
