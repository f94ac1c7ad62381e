// Recipient-domain aggregation between store writes (see observations.h).
#include "learn/observations.h"

#include <algorithm>

#include "common/hash.h"
#include "detect/domain_name.h"

namespace rcptwatch::learn {
namespace {

void add_sender(DomainObservation& d, std::uint64_t sender) {
  if (d.senders.size() >= kMaxSendersPerDomain) return;
  if (std::find(d.senders.begin(), d.senders.end(), sender) == d.senders.end()) d.senders.push_back(sender);
}

void widen(DomainObservation& d, Timestamp first, Timestamp last) {
  if (d.messages == 0 || first < d.first_seen) d.first_seen = first;
  if (d.messages == 0 || last > d.last_seen) d.last_seen = last;
}

bool accepted(const std::optional<int>& reply) { return !reply || (*reply >= 200 && *reply <= 299); }

void record(DomainObservation& d, std::uint64_t sender, bool has_sender, Timestamp ts) {
  widen(d, ts, ts);
  ++d.messages;
  if (has_sender) add_sender(d, sender);
}

}  // namespace

void ObservationCounters::add(const ObservationCounters& o) {
  transactions += o.transactions;
  recipients += o.recipients;
  recipients_rejected += o.recipients_rejected;
  invalid_domains += o.invalid_domains;
  domains_over_cap += o.domains_over_cap;
}

std::uint64_t sender_hash(std::string_view address) {
  Fnv1a h;
  for (const char c : address) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    h.add(static_cast<unsigned char>(lower));
  }
  return h.value();
}

std::string learnable_domain(std::string_view domain) {
  auto norm = detect::normalise_domain(domain);
  if (!norm || norm->malformed_idn) return {};
  // A single label would become a TLD rule ("protect localhost" protects a whole TLD).
  if (detect::count_labels(norm->ascii) < 2) return {};
  return std::move(norm->ascii);
}

DomainObservation* ObservationBatch::take(std::string_view domain, bool respect_cap) {
  auto it = domains_.find(domain);
  if (it != domains_.end()) return &it->second;
  if (respect_cap && domains_.size() >= max_domains_) {
    ++counters_.domains_over_cap;
    return nullptr;
  }
  return &domains_.emplace(std::string(domain), DomainObservation{}).first->second;
}

void ObservationBatch::add(const smtp::TransactionEvent& t) {
  scratch_.clear();
  for (const auto& r : t.recipients) {
    if (!accepted(r.reply)) {
      ++counters_.recipients_rejected;
      continue;
    }
    // Keys are normalised, and normalising is idempotent: a domain found as it came needs no
    // normalising (the usual case, and no allocation).
    auto known = domains_.find(r.domain);
    DomainObservation* d = known != domains_.end() ? &known->second : nullptr;
    if (d == nullptr) {
      const std::string domain = learnable_domain(r.domain);
      if (domain.empty()) {
        ++counters_.invalid_domains;
        continue;
      }
      d = take(domain, true);
    }
    if (d == nullptr) continue;  // counted as domains_over_cap
    ++counters_.recipients;
    if (std::find(scratch_.begin(), scratch_.end(), d) == scratch_.end()) scratch_.push_back(d);
  }
  if (scratch_.empty()) return;
  ++counters_.transactions;
  const bool has_sender = !t.mail_from.empty();
  const std::uint64_t sender = has_sender ? sender_hash(t.mail_from) : 0;
  for (DomainObservation* d : scratch_) record(*d, sender, has_sender, t.ts);
}

void ObservationBatch::add_domain(std::string_view domain, std::uint64_t sender, bool has_sender, Timestamp ts) {
  if (DomainObservation* d = take(domain, true)) record(*d, sender, has_sender, ts);
}

void ObservationBatch::merge(const ObservationBatch& other) {
  counters_.add(other.counters_);
  for (const auto& [domain, seen] : other.domains_) {
    DomainObservation* d = take(domain, false);
    widen(*d, seen.first_seen, seen.last_seen);
    d->messages += seen.messages;
    for (std::uint64_t s : seen.senders) add_sender(*d, s);
  }
}

const DomainObservation* ObservationBatch::find(std::string_view domain) const {
  auto it = domains_.find(domain);
  return it == domains_.end() ? nullptr : &it->second;
}

std::vector<ObservationBatch::Entry> ObservationBatch::sorted() const {
  std::vector<Entry> out;
  out.reserve(domains_.size());
  for (const auto& [domain, seen] : domains_) out.push_back(Entry{&domain, &seen});
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return *a.domain < *b.domain; });
  return out;
}

}  // namespace rcptwatch::learn
