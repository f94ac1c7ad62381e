// In-memory aggregation of recipient domains seen in SMTP transactions, between two writes to
// the correspondent store: the packet path only touches this (a hash map), never SQLite.
// One batch per Pipeline (so per worker); the thread that owns the store takes the batches at
// a point of the packet stream, merges them and writes them in one database transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/types.h"
#include "smtp/session.h"

namespace rcptwatch::learn {

// Distinct senders are counted with a capped set: at most this many sender hashes are kept per
// domain (in a batch and in the store), so the count saturates here. --learn-min-senders must
// not exceed it.
inline constexpr std::size_t kMaxSendersPerDomain = 64;

// What one batch saw of one recipient domain.
struct DomainObservation {
  std::uint64_t messages = 0;              // transactions with an accepted recipient there
  std::vector<std::uint64_t> senders;      // distinct sender hashes, at most kMaxSendersPerDomain
  Timestamp first_seen;
  Timestamp last_seen;
};

struct ObservationCounters {
  std::uint64_t transactions = 0;         // transactions with at least one recipient recorded
  std::uint64_t recipients = 0;           // accepted recipients recorded
  std::uint64_t recipients_rejected = 0;  // reply seen and not 2xx: not a correspondent
  std::uint64_t invalid_domains = 0;      // IP literals, bad syntax, single labels: not learned
  std::uint64_t domains_over_cap = 0;     // a new domain not taken: the batch was full

  void add(const ObservationCounters& o);
};

// 64-bit FNV-1a of the lower-cased address: the store keeps hashes, never sender addresses.
std::uint64_t sender_hash(std::string_view address);

// A recipient domain in the form the store and the learned rules use (lower-case A-labels, no
// trailing dot, at least two labels); empty when it cannot be learned.
std::string learnable_domain(std::string_view domain);

class ObservationBatch {
 public:
  explicit ObservationBatch(std::size_t max_domains = 10'000) : max_domains_(max_domains) {}

  // One finished transaction. Every recipient whose reply is 2xx or unknown (not seen) counts:
  // each distinct domain among them gets one message and the sender (null sender: none).
  void add(const smtp::TransactionEvent& transaction);
  // The same for a domain already in learnable form (tests, merging).
  void add_domain(std::string_view domain, std::uint64_t sender, bool has_sender, Timestamp ts);
  // Adds another batch (another worker's) into this one; the cap does not apply here.
  void merge(const ObservationBatch& other);

  bool empty() const { return domains_.empty(); }
  std::size_t size() const { return domains_.size(); }
  const ObservationCounters& counters() const { return counters_; }
  const DomainObservation* find(std::string_view domain) const;

  struct Entry {
    const std::string* domain;
    const DomainObservation* seen;
  };
  // Sorted by domain, so writes (and the ids they create) do not depend on hash order.
  std::vector<Entry> sorted() const;

 private:
  // Heterogeneous lookup: a recipient domain (a view into the SMTP event) is looked up
  // without building a string.
  struct ViewHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using DomainMap = std::unordered_map<std::string, DomainObservation, ViewHash, std::equal_to<>>;

  DomainObservation* take(std::string_view domain, bool respect_cap);
  std::size_t max_domains_;
  DomainMap domains_;
  ObservationCounters counters_;
  std::vector<DomainObservation*> scratch_;  // the current transaction's domains
};

}  // namespace rcptwatch::learn
