// CIDR parsing and matching; see cidr.h.
#include "common/cidr.h"

#include <arpa/inet.h>

#include <charconv>

namespace rcptwatch {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the first `prefix` bits of a and b are equal.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (a[i] != b[i]) return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool is_v4_mapped(const IpAddress& a) {
  if (a.family != IpAddress::Family::V6) return false;
  for (int i = 0; i < 10; ++i) {
    if (a.bytes[static_cast<std::size_t>(i)] != 0) return false;
  }
  return a.bytes[10] == 0xFF && a.bytes[11] == 0xFF;
}

}  // namespace

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != network.family) return false;
  return same_prefix(a.bytes.data(), network.bytes.data(), prefix);
}

std::string Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix); }

tl::expected<Cidr, std::string> parse_cidr(std::string_view text) {
  const std::string_view t = trim(text);
  const auto fail = [&](std::string_view why) {
    return tl::unexpected("'" + std::string(t) + "': " + std::string(why));
  };
  if (t.empty()) return fail("empty network");
  if (t.front() == '!') return fail("negation is not supported; list the home networks");
  const auto slash = t.find('/');
  const std::string addr_text(t.substr(0, slash));
  Cidr c;
  std::uint8_t raw[16] = {};
  unsigned max_prefix = 0;
  if (inet_pton(AF_INET, addr_text.c_str(), raw) == 1) {
    c.network = IpAddress::v4(raw);
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr_text.c_str(), raw) == 1) {
    c.network = IpAddress::v6(raw);
    max_prefix = 128;
  } else {
    return fail("not an IPv4 or IPv6 address");
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = t.substr(slash + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > max_prefix) {
      return fail("prefix length must be a number from 0 to " + std::to_string(max_prefix));
    }
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  // Clear the host bits so that equal networks compare equal and print canonically.
  for (unsigned bit = prefix; bit < max_prefix; ++bit) {
    c.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return c;
}

tl::expected<CidrSet, std::string> CidrSet::parse(std::string_view list) {
  CidrSet set;
  std::size_t start = 0;
  for (;;) {
    const auto comma = list.find(',', start);
    const std::string_view item =
        list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto c = parse_cidr(item);
    if (!c) return tl::unexpected(c.error());
    set.add(*c);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

bool CidrSet::contains(const IpAddress& a) const {
  if (is_v4_mapped(a)) {
    const IpAddress v4 = IpAddress::v4(a.bytes.data() + 12);
    for (const Cidr& c : blocks_) {
      if (c.contains(v4)) return true;
    }
  }
  for (const Cidr& c : blocks_) {
    if (c.contains(a)) return true;
  }
  return false;
}

}  // namespace rcptwatch
