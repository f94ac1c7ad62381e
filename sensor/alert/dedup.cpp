// Window de-duplication and token-bucket rate limiting on packet time.
#include "alert/dedup.h"

#include <algorithm>

namespace rcptwatch::alert {
namespace {

constexpr double kUsecPerMinute = 60.0 * 1'000'000.0;

// Length-prefixed fields: addresses may contain any byte, so no separator is safe.
std::string make_key(const Alert& a) {
  std::string k;
  k.reserve(a.mail_from.size() + a.rcpt_to.size() + 32);
  k += std::to_string(a.mail_from.size());
  k += ':';
  k += a.mail_from;
  k += std::to_string(a.rcpt_to.size());
  k += ':';
  k += a.rcpt_to;
  k += std::to_string(a.signature_id);
  if (!a.source.empty()) {
    // Alerts without an envelope (DNS, SNI, greeting, MX correlation): one per observed name,
    // source, client and server, and DNS query and response apart.
    k += '|';
    k += a.source;
    k += '|';
    k += a.domain;
    k += '|';
    k += a.src_ip.to_string();
    k += '|';
    k += a.dest_ip.to_string();
    if (a.dns) {
      k += '|';
      k += a.dns->type;
      k += a.dns->rrtype;
    }
  }
  return k;
}


}  // namespace

bool Deduplicator::take_token(std::uint32_t rule, Timestamp now) {
  if (config_.rate_per_minute == 0) return true;
  const double capacity = config_.rate_per_minute;
  auto [it, fresh] = buckets_.try_emplace(rule, Bucket{capacity, now});
  Bucket& b = it->second;
  if (!fresh && now > b.last) {
    const double elapsed = static_cast<double>(now.usec - b.last.usec);
    b.tokens = std::min(capacity, b.tokens + elapsed * capacity / kUsecPerMinute);
    b.last = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

DedupDecision Deduplicator::check(const Alert& a) {
  DedupDecision d;
  if (config_.window_usec <= 0) {
    if (!take_token(a.signature_id, a.ts)) {
      ++counters_.rate_limited;
      d.verdict = DedupVerdict::RateLimited;
      return d;
    }
    ++counters_.emitted;
    return d;
  }

  std::string key = make_key(a);
  auto it = keys_.find(key);
  if (it != keys_.end() && a.ts.usec - it->second.window_start.usec < config_.window_usec) {
    ++it->second.repeats;
    ++counters_.duplicates;
    d.verdict = DedupVerdict::Duplicate;
    return d;
  }
  if (!take_token(a.signature_id, a.ts)) {
    ++counters_.rate_limited;
    d.verdict = DedupVerdict::RateLimited;
    return d;
  }
  ++counters_.emitted;
  if (it != keys_.end()) {
    d.repeat_count = it->second.repeats;
    it->second.repeats = 0;
    it->second.window_start = a.ts;
    age_order_.splice(age_order_.end(), age_order_, it->second.order);
    return d;
  }
  if (config_.max_keys == 0) return d;
  while (keys_.size() >= config_.max_keys) {
    keys_.erase(age_order_.front());
    age_order_.pop_front();
    ++counters_.evicted;
  }
  age_order_.push_back(key);
  keys_.emplace(std::move(key), KeyState{a.ts, 0, std::prev(age_order_.end())});
  return d;
}

void DedupSink::write_alert(const Alert& a) {
  const DedupDecision d = dedup_.check(a);
  if (d.verdict != DedupVerdict::Emit) return;
  if (d.repeat_count == 0) {
    next_.write_alert(a);
    return;
  }
  Alert copy = a;
  copy.repeat_count = d.repeat_count;
  next_.write_alert(copy);
}

}  // namespace rcptwatch::alert
