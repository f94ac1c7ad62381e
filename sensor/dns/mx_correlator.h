// Memory of where mail to lookalike domains goes: MX hosts named in answers for lookalike
// domains, and the addresses those hosts resolve to, each kept for its DNS TTL (packet time).
// An SMTP connection to a remembered address is mail to the lookalike domain even when the
// envelope is encrypted. Both maps are bounded; what the caps push out is counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "dns/message.h"

namespace rcptwatch::dns {

struct CorrelatorLimits {
  std::size_t max_hosts = 4096;      // MX host names remembered
  std::size_t max_addresses = 16384;  // addresses remembered
  // TTLs are clamped to this (a week): a hostile resolver's 68-year TTL must not pin memory.
  std::uint32_t max_ttl_seconds = 7 * 24 * 3600;
};

struct CorrelatorCounters {
  std::uint64_t hosts_learned = 0;      // MX host names of lookalike domains taken in
  std::uint64_t addresses_learned = 0;  // addresses of those hosts taken in (or refreshed)
  std::uint64_t expired = 0;            // entries dropped when their TTL ran out
  std::uint64_t evicted_cap = 0;        // entries pushed out by a cap (soonest to expire first)
  std::uint64_t hits = 0;               // lookups that found a live address
};

// What a remembered address says about the connection.
struct MxBinding {
  std::string domain;   // the lookalike domain whose MX this is
  std::string mx_host;  // the MX host name the address belongs to
  Timestamp expires;
};

class MxCorrelator {
 public:
  explicit MxCorrelator(CorrelatorLimits limits = {}) : limits_(limits) {}

  // Takes in one response whose MX answers belong to `lookalike_domain` (the caller decided
  // that the question name is a lookalike): remembers the MX hosts, and the A/AAAA records of
  // those hosts found anywhere in the message (following CNAMEs inside it).
  void learn_mx_response(const Message& msg, std::string_view lookalike_domain, Timestamp now);
  // Takes in the A/AAAA answers of any response whose owner (or CNAME chain start) is a
  // remembered MX host: the second step when the resolver did not send the addresses along.
  void learn_address_response(const Message& msg, Timestamp now);

  // The live binding of `address`, if any.
  std::optional<MxBinding> lookup(const IpAddress& address, Timestamp now);

  const CorrelatorCounters& counters() const { return counters_; }
  std::size_t hosts() const { return hosts_.size(); }
  std::size_t addresses() const { return addresses_.size(); }

 private:
  struct HostEntry {
    std::string domain;
    Timestamp expires;
  };
  void remember_host(std::string_view host, std::string_view domain, Timestamp expires,
                     Timestamp now);
  void remember_address(const IpAddress& address, std::string_view host, std::string_view domain,
                        Timestamp expires, Timestamp now);
  // Learns the addresses of `host` (and of what it is a CNAME of) in `msg`.
  void learn_addresses_of(const Message& msg, std::string_view host, std::string_view domain,
                          Timestamp now, std::uint32_t ttl_cap);
  Timestamp expiry(Timestamp now, std::uint32_t ttl) const;
  template <typename Map>
  void make_room(Map& map, std::size_t cap, Timestamp now);

  CorrelatorLimits limits_;
  CorrelatorCounters counters_;
  std::map<std::string, HostEntry, std::less<>> hosts_;
  std::map<IpAddress, MxBinding> addresses_;
};

}  // namespace rcptwatch::dns
