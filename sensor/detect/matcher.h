// Lookalike matcher: is an observed recipient domain a lookalike of a protected one?
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "detect/rules.h"

namespace rcptwatch::detect {

struct Match {
  const ProtectRule* rule = nullptr;  // owned by the RuleSet the matcher holds
  std::string domain;                 // the observed domain, normalised (A-labels)
  std::string domain_unicode;         // the same with xn-- labels decoded (for display)
  std::string protected_domain;       // what it imitates, e.g. "mil" or "army.mil"
  std::string technique;              // one of technique_names() (rules.h); see rules/README.md
  // Edit distance (code points) to what it imitates; structural techniques (appended-tld,
  // missing-dot, subdomain) count 1, hyphenation counts the added hyphens, watch-list is 0.
  std::uint32_t distance = 0;
};

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const RuleSet> rules);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // nullopt: not a lookalike (or exactly at/under a protected domain, or allowed, or not a
  // syntactically valid domain). Thread-safe: the matcher is immutable after construction.
  std::optional<Match> match(std::string_view domain) const;

  const RuleSet& rules() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rcptwatch::detect
