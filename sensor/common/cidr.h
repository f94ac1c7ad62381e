// CIDR blocks and lists of them (`--home-net 10.0.0.0/8,2001:db8::/32`): the parser and the
// membership test behind direction classification. Suricata's HOME_NET without its variables.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "common/types.h"

namespace rcptwatch {

struct Cidr {
  IpAddress network;       // host bits cleared
  std::uint8_t prefix = 0;  // 0-32 for IPv4, 0-128 for IPv6

  bool contains(const IpAddress& a) const;
  std::string to_string() const;  // "10.0.0.0/8"
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Host bits below the
// prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8), as Suricata does. Errors name the text.
tl::expected<Cidr, std::string> parse_cidr(std::string_view text);

// A set of CIDR blocks. An IPv4-mapped IPv6 address (::ffff:10.1.2.3) is looked up as the
// IPv4 address it carries, since dual-stack hosts show up either way.
class CidrSet {
 public:
  // Comma-separated blocks; blanks around elements are ignored; empty elements are errors.
  static tl::expected<CidrSet, std::string> parse(std::string_view list);

  void add(const Cidr& c) { blocks_.push_back(c); }
  bool contains(const IpAddress& a) const;
  bool empty() const { return blocks_.empty(); }
  const std::vector<Cidr>& blocks() const { return blocks_; }

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace rcptwatch
