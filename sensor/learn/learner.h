// Learned protection (--learn): recipient domains that have become established correspondents
// (enough messages from enough distinct senders) are protected automatically, by a second
// matcher of `protect` rules generated from the store. The Learner owns the store and runs
// in one thread (the capture thread); the pipelines only fill ObservationBatches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "common/types.h"
#include "detect/matcher.h"
#include "learn/correspondent_store.h"
#include "learn/observations.h"

namespace rcptwatch::learn {

struct LearnConfig {
  std::filesystem::path state_dir = "/var/lib/rcptwatch";  // --state-dir
  std::uint64_t min_messages = 5;                          // --learn-min-messages
  std::uint64_t min_senders = 2;                           // --learn-min-senders (<= kMaxSendersPerDomain)
  std::size_t max_domains = 10'000;                        // --learn-max-domains
  std::int64_t flush_interval_usec = 60'000'000;           // --learn-flush-interval, packet time
};

// Rule ids of learned rules: kLearnedIdBase + the domain's store id, far above the ids rule
// files can use (explicit < 1000000, automatic from 1000001), so a SOC can tell them apart.
inline constexpr std::uint32_t kLearnedIdBase = 2'000'000'000;

struct LearnCounters {
  ObservationCounters observed;           // summed over every batch flushed
  std::uint64_t flushes = 0;              // batches written (one database transaction each)
  std::uint64_t store_errors = 0;         // flushes that failed (the batch is lost)
  std::uint64_t domains_added = 0;
  std::uint64_t domains_evicted = 0;      // over --learn-max-domains
  std::uint64_t promoted = 0;             // domains that became established correspondents
  std::uint64_t candidates_lookalike = 0; // gauge: over the thresholds but held back (a lookalike)
  std::uint64_t matcher_rebuilds = 0;
  std::uint64_t domains = 0;              // gauge: domains in the store
  std::uint64_t established = 0;          // gauge: established correspondents
};

// The learned rule set for `established` (normalised domains with their store ids): one
// `protect` rule per domain (rule defaults; distance 0 when no label but the last is longer
// than three characters, as the shipped packs do for short names), plus an `allow` for each
// domain itself (an established correspondent never alerts, even when it resembles another)
// and every allow rule of `configured`. Null when `established` is empty.
std::shared_ptr<const detect::Matcher> build_learned_matcher(const std::vector<CorrespondentRecord>& established,
                                                             const detect::RuleSet* configured);

class Learner {
 public:
  // Creates the state directory when needed and opens (or creates) its store. Errors name the
  // directory or file and the reason.
  static tl::expected<std::unique_ptr<Learner>, std::string> open(const LearnConfig& config,
                                                                  std::shared_ptr<const detect::Matcher> configured);

  // Matcher of the learned rules; null while nothing is established.
  std::shared_ptr<const detect::Matcher> matcher() const { return learned_; }

  // Writes `batch` (one transaction), promotes the candidates that are not lookalikes of a
  // configured or learned protected domain, and rebuilds the matcher when the established set
  // changed (also when a domain was forgotten or evicted meanwhile). Returns whether
  // matcher() changed. `now` is the packet time, recorded as the promotion time.
  tl::expected<bool, std::string> flush(const ObservationBatch& batch, Timestamp now);

  // The configured rules changed (SIGHUP): their allow rules apply to the learned ones too.
  // Returns whether matcher() changed.
  bool set_configured(std::shared_ptr<const detect::Matcher> configured);

  const LearnCounters& counters() const { return counters_; }
  const LearnConfig& config() const { return config_; }
  const std::string& store_path() const { return store_.path(); }

 private:
  Learner(const LearnConfig& config, CorrespondentStore store, std::shared_ptr<const detect::Matcher> configured)
      : config_(config), store_(std::move(store)), configured_(std::move(configured)) {}
  tl::expected<bool, std::string> refresh();  // re-reads the established set

  LearnConfig config_;
  CorrespondentStore store_;
  std::shared_ptr<const detect::Matcher> configured_;
  std::vector<CorrespondentRecord> established_;
  std::shared_ptr<const detect::Matcher> learned_;
  LearnCounters counters_;
};

}  // namespace rcptwatch::learn
