// Lookalike MX host and address memory. Learning happens only for answers about lookalike
// domains (rare), so map inserts may allocate; lookups on every SMTP connection do not.
#include "dns/mx_correlator.h"

#include <algorithm>
#include <array>

namespace rcptwatch::dns {
namespace {

// CNAME chains followed inside one message: real chains are one or two long.
constexpr int kMaxCnameChain = 8;

}  // namespace

Timestamp MxCorrelator::expiry(Timestamp now, std::uint32_t ttl) const {
  const std::uint32_t clamped = std::min(ttl, limits_.max_ttl_seconds);
  return Timestamp{now.usec + std::int64_t{clamped} * 1'000'000};
}

template <typename Map>
void MxCorrelator::make_room(Map& map, std::size_t cap, Timestamp now) {
  if (map.size() < cap) return;
  for (auto it = map.begin(); it != map.end();) {
    if (it->second.expires <= now) {
      it = map.erase(it);
      ++counters_.expired;
    } else {
      ++it;
    }
  }
  while (!map.empty() && map.size() >= cap) {
    auto soonest = std::min_element(map.begin(), map.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    map.erase(soonest);
    ++counters_.evicted_cap;
  }
}

void MxCorrelator::remember_host(std::string_view host, std::string_view domain,
                                 Timestamp expires, Timestamp now) {
  if (host.empty() || limits_.max_hosts == 0) return;
  auto it = hosts_.find(host);
  if (it == hosts_.end()) {
    make_room(hosts_, limits_.max_hosts, now);
    hosts_.emplace(std::string(host), HostEntry{std::string(domain), expires});
  } else {
    it->second.domain.assign(domain);
    it->second.expires = std::max(it->second.expires, expires);
  }
  ++counters_.hosts_learned;
}

void MxCorrelator::remember_address(const IpAddress& address, std::string_view host,
                                    std::string_view domain, Timestamp expires,
                                    Timestamp now) {
  if (limits_.max_addresses == 0) return;
  auto it = addresses_.find(address);
  if (it == addresses_.end()) {
    make_room(addresses_, limits_.max_addresses, now);
    addresses_.emplace(address, MxBinding{std::string(domain), std::string(host), expires});
  } else {
    it->second.domain.assign(domain);
    it->second.mx_host.assign(host);
    it->second.expires = expires;
  }
  ++counters_.addresses_learned;
}

void MxCorrelator::learn_addresses_of(const Message& msg, std::string_view host,
                                      std::string_view domain, Timestamp now,
                                      std::uint32_t ttl_cap) {
  // Names that stand for `host`: itself and the CNAME targets reachable from it.
  std::array<std::string_view, kMaxCnameChain + 1> aliases{};
  std::size_t alias_count = 0;
  aliases[alias_count++] = host;
  std::uint32_t chain_ttl = ttl_cap;
  for (std::size_t i = 0; i < alias_count && alias_count < aliases.size(); ++i) {
    for (const Record& r : msg.records()) {
      if (r.type == rr_type::kCname && r.rdata_decoded && r.name.view() == aliases[i]) {
        aliases[alias_count++] = r.target.view();
        chain_ttl = std::min(chain_ttl, r.ttl);
        if (alias_count == aliases.size()) break;
      }
    }
  }
  for (const Record& r : msg.records()) {
    if ((r.type != rr_type::kA && r.type != rr_type::kAaaa) || !r.rdata_decoded) continue;
    const std::string_view owner = r.name.view();
    const bool matches = std::any_of(aliases.begin(), aliases.begin() + alias_count,
                                     [&](std::string_view a) { return a == owner; });
    if (!matches) continue;
    const std::uint32_t ttl = owner == host ? std::min(r.ttl, ttl_cap) : std::min(r.ttl, chain_ttl);
    remember_address(r.address, host, domain, expiry(now, ttl), now);
  }
}

void MxCorrelator::learn_mx_response(const Message& msg, std::string_view lookalike_domain,
                                     Timestamp now) {
  if (!msg.response || msg.rcode != 0) return;
  for (const Record& r : msg.records()) {
    if (r.type != rr_type::kMx || !r.rdata_decoded || r.section != Section::Answer) continue;
    const std::string_view host = r.target.view();
    remember_host(host, lookalike_domain, expiry(now, r.ttl), now);
    // An address is only as fresh as the MX record that led to it.
    learn_addresses_of(msg, host, lookalike_domain, now, r.ttl);
  }
}

void MxCorrelator::learn_address_response(const Message& msg, Timestamp now) {
  if (!msg.response || msg.rcode != 0 || hosts_.empty()) return;
  for (const Question& q : msg.questions()) {
    if (q.type != rr_type::kA && q.type != rr_type::kAaaa) continue;
    auto it = hosts_.find(q.name.view());
    if (it == hosts_.end()) continue;
    if (it->second.expires <= now) {
      hosts_.erase(it);
      ++counters_.expired;
      continue;
    }
    const auto remaining = static_cast<std::uint32_t>(
        std::min<std::int64_t>((it->second.expires.usec - now.usec) / 1'000'000, UINT32_MAX));
    const std::string domain = it->second.domain;  // the map may change below
    learn_addresses_of(msg, q.name.view(), domain, now, std::max<std::uint32_t>(remaining, 1));
  }
}

std::optional<MxBinding> MxCorrelator::lookup(const IpAddress& address, Timestamp now) {
  if (addresses_.empty()) return std::nullopt;
  auto it = addresses_.find(address);
  if (it == addresses_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    addresses_.erase(it);
    ++counters_.expired;
    return std::nullopt;
  }
  ++counters_.hits;
  return it->second;
}

}  // namespace rcptwatch::dns
