// Rule set: protected domains (and TLDs), allow-list, and the loader for rule files.
// Grammar: rules/README.md. A rule set is immutable once loaded; reloads build a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace rcptwatch::detect {

enum class Severity : std::uint8_t { Low, Medium, High, Critical };
std::string_view to_string(Severity s);

// `protect` rules look for lookalikes; `watch` rules are an explicit deny list (always alert).
enum class RuleKind : std::uint8_t { Protect, Watch };

struct ProtectRule {
  std::uint32_t id = 0;
  std::string domain;  // normalised: lower-case, no trailing dot; "mil" protects a TLD
  Severity severity = Severity::High;
  std::string msg;
  std::string source;  // "file:line", for explanations
  RuleKind kind = RuleKind::Protect;
  // watch only: "*.suffix" was given, `domain` holds the suffix and only names strictly
  // below it match.
  bool wildcard = false;
  // protect only: the largest edit distance reported. Resolved at load time: the
  // `distance=` option, else 2 when the longest label has 9 or more characters, else 1.
  std::uint32_t max_distance = 1;
  // protect only: technique names this rule may report; empty means all of them.
  std::vector<std::string> techniques;
  // protect only: technique names it may not report (`except=`), whatever `techniques` says.
  std::vector<std::string> except_techniques;
};

// `allow` rules: an exact domain, or (wildcard) anything strictly below a suffix.
struct AllowRule {
  std::string domain;
  bool wildcard = false;
  std::string source;
};

struct LoadError {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string reason;
  std::string to_string() const;  // "file:line:column: reason"
};

class RuleSet {
 public:
  RuleSet(std::vector<ProtectRule> rules, std::vector<AllowRule> allows, std::vector<std::string> keywords = {});

  // protect and watch rules, in load order (includes expanded where they stand).
  std::span<const ProtectRule> rules() const { return rules_; }
  std::span<const AllowRule> allows() const { return allows_; }
  // Words from `keywords` statements, for combosquat in addition to builtin_keywords():
  // lower-case, deduplicated, in load order. They apply to every protect rule of the set.
  std::span<const std::string> keywords() const { return keywords_; }
  const ProtectRule* find(std::uint32_t id) const;  // nullptr if no such rule

 private:
  std::vector<ProtectRule> rules_;
  std::vector<AllowRule> allows_;
  std::vector<std::string> keywords_;
};

// Ids given to rules without `id=`: kAutoIdBase + 1, + 2, ... in load order. Explicit ids
// must be below kAutoIdBase so the two can never collide.
inline constexpr std::uint32_t kAutoIdBase = 1'000'000;
// Bounds the deletion index, whose size grows with the distance.
inline constexpr std::uint32_t kMaxRuleDistance = 3;
inline constexpr std::uint32_t kMaxIncludeDepth = 16;

// Every technique name a Match may carry, most specific first (ties between techniques of one
// rule at one distance are broken in this order).
std::span<const std::string_view> technique_names();
bool is_technique_name(std::string_view name);

// The words combosquat looks for before or after a protected name (nato-login.int,
// securenato.int); rules/README.md lists them. A `keywords` statement adds more.
std::span<const std::string_view> builtin_keywords();
inline constexpr std::size_t kMaxKeywordLength = 63;  // a whole label

// Loads and validates all files; a set with any error is refused whole.
tl::expected<std::shared_ptr<const RuleSet>, std::vector<LoadError>> load_rule_files(
    const std::vector<std::string>& paths);
// Same, from text already in memory (`name` is used in error messages, and `include` paths are
// resolved relative to its directory).
tl::expected<std::shared_ptr<const RuleSet>, std::vector<LoadError>> parse_rules(
    std::string_view text, std::string_view name);

}  // namespace rcptwatch::detect
