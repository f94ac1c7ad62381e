// Lookalike matcher: is an observed recipient domain a lookalike of a protected one?
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detect/rules.h"

namespace rcptwatch::detect {

struct Match {
  const ProtectRule* rule = nullptr;  // owned by the RuleSet the matcher holds
  std::string domain;                 // the observed domain, normalised (A-labels)
  std::string domain_unicode;         // the same with xn-- labels decoded (for display)
  std::string protected_domain;       // what it imitates, e.g. "mil" or "army.mil"
  std::string technique;              // one of technique_names() (rules.h); see rules/README.md
  // Edit distance (code points) to what it imitates; structural techniques (appended-tld,
  // missing-dot, subdomain, tld-swap, combosquat) count 1, hyphenation counts the added
  // hyphens, watch-list is 0.
  std::uint32_t distance = 0;
};

// Why a domain did or did not match, for people tuning rules (`rcptwatch rules explain`).
struct Explanation {
  enum class Verdict : std::uint8_t { Match, NoMatch, Invalid };
  enum class Reason : std::uint8_t {
    Lookalike,        // `match` holds the closest lookalike
    WatchList,        // `match` holds the watch rule
    Allowed,          // `allow_source` names the allow rule; `suppressed` what it hid, if any
    AtOrUnderProtected,  // `owner` is the protected domain it is at or under
    NoCandidate,      // no protected domain within distance by any technique
    InvalidDomain,    // `error` says why
  };
  std::string input;
  Verdict verdict = Verdict::NoMatch;
  Reason reason = Reason::NoCandidate;
  std::string ascii;    // normalised, A-labels
  std::string unicode;  // normalised, U-labels
  bool malformed_idn = false;
  std::string registrable_domain;  // from the Public Suffix List; empty when none
  std::string public_suffix;
  std::optional<Match> match;       // Lookalike / WatchList
  std::optional<Match> suppressed;  // Allowed: the lookalike the allow rule hid
  std::string allow_rule;           // Allowed: the rule as written ("*.partner.ml")
  std::string allow_source;         // Allowed: "file:line"
  std::string owner;                // AtOrUnderProtected
  std::string error;                // InvalidDomain
  std::string summary() const;      // one human sentence
};
std::string_view to_string(Explanation::Verdict v);
std::string_view to_string(Explanation::Reason r);

// One candidate lookalike of a protected domain, for review and tests.
struct Variant {
  std::string domain;     // A-labels
  std::string technique;  // the generator that produced it (one of variant_techniques())
};
// Generators `Matcher::variants` knows, in output order.
std::span<const std::string_view> variant_techniques();

class Matcher {
 public:
  // `cache_entries`: size of a bounded verdict cache (mail repeats recipient domains, so most
  // lookups are answered from it); 0 disables it. Shared by all threads, sharded locks.
  explicit Matcher(std::shared_ptr<const RuleSet> rules, std::size_t cache_entries = kDefaultCacheEntries);
  static constexpr std::size_t kDefaultCacheEntries = 16384;
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // nullopt: not a lookalike (or exactly at/under a protected domain, or allowed, or not a
  // syntactically valid domain). Thread-safe: the matcher is immutable after construction.
  std::optional<Match> match(std::string_view domain) const;

  // match() without the verdict cache (benchmarks, and callers that never repeat a domain).
  std::optional<Match> match_uncached(std::string_view domain) const;

  const RuleSet& rules() const;

  // Unique to this matcher among all made by the process (a moved matcher keeps its own).
  // Caches of verdicts key on it, not on the address, which a later matcher may reuse.
  std::uint64_t id() const;

  // The whole decision with its reasons (slower than match(): it also looks behind allow rules).
  Explanation explain(std::string_view domain) const;

  // Variants of `protected_domain` the typo models consider (deduplicated, sorted within each
  // technique, excluding anything at or under `protected_domain` or not a valid hostname).
  // `technique` empty: all of variant_techniques(); otherwise only that one. A TLD ("mil")
  // gets only tld-typo variants, as "example.<suffix>" for each real suffix one edit away.
  std::vector<Variant> variants(std::string_view protected_domain, std::string_view technique = {}) const;

  // Bytes held by the indexes (counted, not measured), for benchmarks and capacity planning.
  std::size_t index_memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rcptwatch::detect
