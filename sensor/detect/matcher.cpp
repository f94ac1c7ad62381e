// Lookalike matcher. All the work that depends on the rule set happens once, in the
// constructor, building indexes keyed by what an observed domain can be turned into; a lookup
// then costs a handful of hash probes plus one verification per candidate, whatever the number
// of protected domains:
//   - a symmetric-deletion index (every string reachable by deleting up to d characters) for
//     edit-distance typos, separately for whole protected domains and for protected TLDs;
//   - exact maps for structural tricks (missing dot, appended TLD, extra dot, hyphens);
//   - a map of UTS #39 confusable skeletons for homoglyphs.
#include "detect/matcher.h"

#include <libpsl.h>
#include <unicode/uspoof.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "detect/domain_name.h"
#include "detect/edit_distance.h"

namespace rcptwatch::detect {
namespace {

struct PslFree {
  void operator()(psl_ctx_t* p) const { psl_free(p); }
};
struct SpoofClose {
  void operator()(USpoofChecker* p) const { uspoof_close(p); }
};

// One protect rule as the indexes see it.
struct Target {
  const ProtectRule* rule = nullptr;
  std::string ascii;
  std::u32string text;           // Unicode form, in code points
  std::size_t suffix_start = 0;  // code point where the public suffix starts ("mil": 0)
  std::size_t labels = 0;
};

using TargetList = std::vector<std::uint32_t>;

class DeletionIndex {
 public:
  void add(const std::u32string& text, std::uint32_t max_d, std::uint32_t target) {
    for (const std::u32string& v : deletions(text, max_d)) map_[v].push_back(target);
    max_d_ = std::max(max_d_, max_d);
    min_len_ = std::min(min_len_, text.size());
    max_len_ = std::max(max_len_, text.size());
  }

  // Targets that share a deletion variant with `text`: a superset of those within max_d_.
  void query(const std::u32string& text, TargetList& out) const {
    if (map_.empty() || text.size() + max_d_ < min_len_ || text.size() > max_len_ + max_d_) return;
    for (const std::u32string& v : deletions(text, max_d_)) {
      if (auto it = map_.find(v); it != map_.end()) out.insert(out.end(), it->second.begin(), it->second.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }

 private:
  static std::unordered_set<std::u32string> deletions(const std::u32string& text, std::uint32_t d) {
    std::unordered_set<std::u32string> all{text};
    std::vector<std::u32string> frontier{text};
    for (std::uint32_t level = 0; level < d; ++level) {
      std::vector<std::u32string> next;
      for (const std::u32string& s : frontier) {
        for (std::size_t i = 0; i < s.size(); ++i) {
          std::u32string v = s.substr(0, i) + s.substr(i + 1);
          if (all.insert(v).second) next.push_back(std::move(v));
        }
      }
      frontier = std::move(next);
    }
    return all;
  }

  std::unordered_map<std::u32string, TargetList> map_;
  std::uint32_t max_d_ = 0;
  std::size_t min_len_ = SIZE_MAX;
  std::size_t max_len_ = 0;
};

std::size_t technique_rank(std::string_view name) {
  const auto names = technique_names();
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

bool allowed(const ProtectRule& rule, std::string_view technique) {
  return rule.techniques.empty() ||
         std::find(rule.techniques.begin(), rule.techniques.end(), technique) != rule.techniques.end();
}

bool is_ascii_homoglyph(char32_t a, char32_t b) {
  static constexpr char32_t kPairs[][2] = {{U'0', U'o'}, {U'1', U'l'}, {U'1', U'i'}, {U'l', U'i'}};
  for (const auto& p : kPairs) {
    if ((a == p[0] && b == p[1]) || (a == p[1] && b == p[0])) return true;
  }
  return false;
}

bool is_keyboard_neighbour(char32_t a, char32_t b) {
  static constexpr std::string_view kRows[] = {"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"};
  if (a > 0x7f || b > 0x7f) return false;
  const char ca = static_cast<char>(a);
  const char cb = static_cast<char>(b);
  for (int r = 0; r < 4; ++r) {
    const std::size_t i = kRows[r].find(ca);
    if (i == std::string_view::npos) continue;
    auto in_row = [&](int row, std::size_t lo, std::size_t hi) {
      if (row < 0 || row > 3) return false;
      const std::size_t j = kRows[row].find(cb);
      return j != std::string_view::npos && j + 1 >= lo + 1 && j <= hi;
    };
    // Same row either side; the row below is shifted right by half a key, the row above left.
    return in_row(r, i == 0 ? 0 : i - 1, i + 1) || in_row(r + 1, i == 0 ? 0 : i - 1, i) ||
           in_row(r - 1, i, i + 1);
  }
  return false;
}

bool is_vowel(char32_t c) { return c == U'a' || c == U'e' || c == U'i' || c == U'o' || c == U'u'; }

bool is_hostname_char(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-';
}

bool is_bit_flip(char32_t a, char32_t b) {
  if (a > 0x7f || b > 0x7f || !is_hostname_char(b)) return false;
  const auto x = static_cast<unsigned>(a ^ b);
  return x != 0 && (x & (x - 1)) == 0;
}

bool has_non_ascii(std::u32string_view s) {
  return std::any_of(s.begin(), s.end(), [](char32_t c) { return c > 0x7f; });
}

// Technique names for one edit, most specific first, without the "tld-" prefix.
std::vector<std::string_view> op_names(const EditOp& op, std::u32string_view observed, bool in_suffix) {
  std::vector<std::string_view> names;
  switch (op.kind) {
    case EditKind::Omission:
      names.push_back("omission");
      break;
    case EditKind::Transposition:
      names.push_back("transposition");
      break;
    case EditKind::Insertion: {
      const std::size_t j = op.observed_pos;
      const bool doubled = (j > 0 && observed[j - 1] == op.observed) ||
                           (j + 1 < observed.size() && observed[j + 1] == op.observed);
      if (op.observed == U'-' && !in_suffix) names.push_back("hyphenation");
      if (doubled) names.push_back("repetition");
      names.push_back("insertion");
      break;
    }
    case EditKind::Replacement:
      if (is_ascii_homoglyph(op.expected, op.observed)) names.push_back("homoglyph");
      if (is_keyboard_neighbour(op.expected, op.observed)) names.push_back("keyboard");
      if (is_vowel(op.expected) && is_vowel(op.observed)) names.push_back("vowel-swap");
      if (is_bit_flip(op.expected, op.observed)) names.push_back("bitsquatting");
      names.push_back("replacement");
      break;
  }
  return names;
}

struct Candidate {
  const ProtectRule* rule = nullptr;
  std::string protected_domain;
  std::string technique;
  std::uint32_t distance = 0;
  std::size_t rank = 0;
};

// Lowest distance wins, then the lowest rule id, then the most specific technique.
void offer(std::optional<Candidate>& best, const ProtectRule& rule, std::string_view protected_domain,
           std::string_view technique, std::uint32_t distance) {
  if (!allowed(rule, technique)) return;
  const std::size_t rank = technique_rank(technique);
  if (best) {
    const auto key_new = std::make_tuple(distance, rule.id, rank);
    const auto key_old = std::make_tuple(best->distance, best->rule->id, best->rank);
    if (!(key_new < key_old)) return;
  }
  best = Candidate{&rule, std::string(protected_domain), std::string(technique), distance, rank};
}

std::string remove_char(std::string_view s, char c) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    if (ch != c) out.push_back(ch);
  }
  return out;
}

}  // namespace

struct Matcher::Impl {
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<psl_ctx_t, PslFree> psl_owned;
  const psl_ctx_t* psl = nullptr;
  std::unique_ptr<USpoofChecker, SpoofClose> spoof;

  std::unordered_set<std::string> protected_exact;
  std::unordered_map<std::string, std::vector<const ProtectRule*>> watch_exact;
  std::unordered_map<std::string, std::vector<const ProtectRule*>> watch_below;
  std::unordered_set<std::string> allow_exact;
  std::unordered_set<std::string> allow_below;

  std::vector<Target> targets;
  std::vector<std::size_t> domain_label_counts;  // distinct label counts of domain rules
  std::map<std::size_t, DeletionIndex> domain_index;  // by label count
  DeletionIndex tld_index;
  std::unordered_map<std::string, TargetList> by_ascii;         // appended-tld, subdomain
  std::unordered_map<std::string, TargetList> tld_by_name;      // appended-tld for TLD rules
  std::unordered_map<std::string, TargetList> one_dot_removed;  // missing-dot
  std::unordered_map<std::string, TargetList> dotless;          // missing-dot + new suffix
  std::unordered_map<std::string, TargetList> dehyphenated;     // hyphenation
  std::unordered_map<std::string, TargetList> skeletons;        // homoglyphs

  // UTS #39 skeleton, then folds ICU leaves apart but readers confuse in lower case:
  // upper-case prototypes (0 -> O), "vv"/"w" and "cl"/"d".
  std::string skeleton(std::string_view utf8) const {
    std::string out(utf8.size() * 4 + 16, '\0');
    UErrorCode st = U_ZERO_ERROR;
    const int32_t n = uspoof_getSkeletonUTF8(spoof.get(), 0, utf8.data(), static_cast<int32_t>(utf8.size()),
                                             out.data(), static_cast<int32_t>(out.size()), &st);
    if (U_FAILURE(st) || n < 0) return {};
    out.resize(static_cast<std::size_t>(n));
    std::string folded;
    folded.reserve(out.size() + 8);
    for (char c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c == 'w') {
        folded += "vv";
      } else if (c == 'd') {
        folded += "cl";
      } else {
        folded.push_back(c);
      }
    }
    return folded;
  }

  // Labels in the public suffix of a domain: the real list first, the last label otherwise.
  std::size_t suffix_labels(const std::string& ascii) const {
    const char* reg = psl_registrable_domain(psl, ascii.c_str());
    if (reg == nullptr) return 1;
    return count_labels(reg) - 1;
  }

  void add_target(const ProtectRule& rule) {
    auto norm = normalise_domain(rule.domain);
    if (!norm) return;  // the loader validated it; a hand-built RuleSet may not have
    Target t;
    t.rule = &rule;
    t.ascii = norm->ascii;
    t.text = utf8_to_utf32(norm->unicode);
    t.labels = count_labels(t.ascii);
    const std::size_t k = t.labels == 1 ? 1 : std::min(suffix_labels(t.ascii), t.labels - 1);
    const std::string_view suffix_u = trailing_labels(norm->unicode, k);
    t.suffix_start = t.text.size() - utf8_to_utf32(suffix_u).size();
    const auto idx = static_cast<std::uint32_t>(targets.size());
    protected_exact.insert(t.ascii);
    if (t.labels == 1) {
      tld_index.add(t.text, rule.max_distance, idx);
      tld_by_name[t.ascii].push_back(idx);
    } else {
      domain_index[t.labels].add(t.text, rule.max_distance, idx);
      if (std::find(domain_label_counts.begin(), domain_label_counts.end(), t.labels) ==
          domain_label_counts.end()) {
        domain_label_counts.push_back(t.labels);
      }
      by_ascii[t.ascii].push_back(idx);
      for (std::size_t i = 0; i < t.ascii.size(); ++i) {
        if (t.ascii[i] == '.') one_dot_removed[t.ascii.substr(0, i) + t.ascii.substr(i + 1)].push_back(idx);
      }
      dotless[remove_char(t.ascii, '.')].push_back(idx);
      dehyphenated[remove_char(t.ascii, '-')].push_back(idx);
      skeletons[skeleton(norm->unicode)].push_back(idx);
    }
    targets.push_back(std::move(t));
  }

  void build() {
    for (const AllowRule& a : rules->allows()) (a.wildcard ? allow_below : allow_exact).insert(a.domain);
    for (const ProtectRule& r : rules->rules()) {
      if (r.kind == RuleKind::Watch) {
        (r.wildcard ? watch_below : watch_exact)[r.domain].push_back(&r);
      } else {
        add_target(r);
      }
    }
    std::sort(domain_label_counts.begin(), domain_label_counts.end());
  }

  std::optional<Match> match(std::string_view input) const;
  void match_edits(const NormalisedDomain& d, std::size_t labels, std::optional<Candidate>& best) const;
  void match_structure(const NormalisedDomain& d, std::size_t labels, std::string_view left,
                       std::optional<Candidate>& best) const;
  void match_tld(std::string_view suffix, std::string_view left, std::optional<Candidate>& best) const;
  void offer_script(const Target& t, std::u32string_view observed, bool all_in_suffix,
                    std::optional<Candidate>& best) const;
};

void Matcher::Impl::offer_script(const Target& t, std::u32string_view observed, bool all_in_suffix,
                                 std::optional<Candidate>& best) const {
  const EditScript script = osa_script(t.text, observed);
  if (script.distance == 0 || script.distance > t.rule->max_distance) return;
  std::vector<std::string_view> common;
  bool first = true;
  bool suffix_state = false;
  bool mixed = false;
  for (const EditOp& op : script.ops) {
    const bool in_suffix = all_in_suffix || op.protected_pos >= t.suffix_start;
    const std::vector<std::string_view> names = op_names(op, observed, in_suffix);
    if (first) {
      common = names;
      suffix_state = in_suffix;
      first = false;
      continue;
    }
    if (in_suffix != suffix_state) mixed = true;
    std::erase_if(common, [&](std::string_view n) { return std::find(names.begin(), names.end(), n) == names.end(); });
  }
  if (mixed) {
    offer(best, *t.rule, t.ascii, "multi-edit", script.distance);
    return;
  }
  if (common.empty()) common.push_back("multi-edit");
  for (const std::string_view n : common) {
    const std::string name = suffix_state ? "tld-" + std::string(n) : std::string(n);
    if (allowed(*t.rule, name)) {
      offer(best, *t.rule, t.ascii, name, script.distance);
      return;
    }
  }
}

void Matcher::Impl::match_edits(const NormalisedDomain& d, std::size_t labels,
                                std::optional<Candidate>& best) const {
  TargetList candidates;
  for (const std::size_t n : domain_label_counts) {
    if (n > labels) break;
    const std::string_view obs_utf8 = trailing_labels(d.unicode, n);
    const std::u32string obs = utf8_to_utf32(obs_utf8);
    candidates.clear();
    domain_index.at(n).query(obs, candidates);
    for (const std::uint32_t idx : candidates) {
      const Target& t = targets[idx];
      const std::uint32_t dist = osa_distance(t.text, obs, t.rule->max_distance);
      if (dist >= 1 && dist <= t.rule->max_distance) offer_script(t, obs, false, best);
    }
    // Homoglyphs: same skeleton, whatever the edit distance ("rn" for "m" is two edits).
    if (auto it = skeletons.find(skeleton(obs_utf8)); it != skeletons.end()) {
      for (const std::uint32_t idx : it->second) {
        const Target& t = targets[idx];
        if (t.labels != n || t.ascii == trailing_labels(d.ascii, n)) continue;
        offer(best, *t.rule, t.ascii, has_non_ascii(obs) ? "homoglyph-unicode" : "homoglyph",
              osa_distance(t.text, obs, 253));
      }
    }
  }
}

void Matcher::Impl::match_structure(const NormalisedDomain& d, std::size_t labels, std::string_view left,
                                    std::optional<Candidate>& best) const {
  const std::string_view ascii = d.ascii;
  const bool has_hyphen = ascii.find('-') != std::string_view::npos;
  for (const std::size_t n : domain_label_counts) {
    // hyphenation: boe-ing.com for boeing.com, any number of added hyphens.
    if (has_hyphen && n <= labels) {
      const std::string_view obs = trailing_labels(ascii, n);
      if (auto it = dehyphenated.find(remove_char(obs, '-')); it != dehyphenated.end()) {
        for (const std::uint32_t idx : it->second) {
          const Target& t = targets[idx];
          const auto added = std::count(obs.begin(), obs.end(), '-') - std::count(t.ascii.begin(), t.ascii.end(), '-');
          if (t.labels == n && added > 0) offer(best, *t.rule, t.ascii, "hyphenation", static_cast<std::uint32_t>(added));
        }
      }
    }
    // missing-dot: seibm.com for se.ibm.com.
    if (n >= 2 && n - 1 <= labels) {
      if (auto it = one_dot_removed.find(std::string(trailing_labels(ascii, n - 1))); it != one_dot_removed.end()) {
        for (const std::uint32_t idx : it->second) {
          if (targets[idx].labels == n) offer(best, *targets[idx].rule, targets[idx].ascii, "missing-dot", 1);
        }
      }
    }
    // subdomain: na.to.int for nato.int (a dot inserted).
    if (n + 1 <= labels) {
      const std::string_view obs = trailing_labels(ascii, n + 1);
      for (std::size_t i = 0; i < obs.size(); ++i) {
        if (obs[i] != '.') continue;
        const std::string joined = std::string(obs.substr(0, i)).append(obs.substr(i + 1));
        if (auto it = by_ascii.find(joined); it != by_ascii.end()) {
          for (const std::uint32_t idx : it->second) offer(best, *targets[idx].rule, targets[idx].ascii, "subdomain", 1);
        }
      }
    }
  }
  // appended-tld: the protected domain followed by more labels (army.mil.com, nato.int.ru,
  // army.mil.evil.com). Every label boundary counts, not just the public suffix: "uk.com" is
  // itself a public suffix, and mod.gov.uk.com must still be caught.
  for (std::size_t i = 0; i < ascii.size(); ++i) {
    if (ascii[i] != '.') continue;
    const std::string_view prefix = ascii.substr(0, i);
    const std::size_t prefix_labels = count_labels(prefix);
    for (const std::size_t n : domain_label_counts) {
      if (n > prefix_labels) break;
      if (auto it = by_ascii.find(std::string(trailing_labels(prefix, n))); it != by_ascii.end()) {
        for (const std::uint32_t idx : it->second) offer(best, *targets[idx].rule, targets[idx].ascii, "appended-tld", 1);
      }
    }
  }
  // missing-dot with a new suffix: armymil.com for army.mil.
  if (!left.empty()) {
    const std::string_view name = trailing_labels(left, 1);
    if (auto it = dotless.find(std::string(name)); it != dotless.end()) {
      for (const std::uint32_t idx : it->second) {
        const Target& t = targets[idx];
        offer(best, *t.rule, t.ascii, "missing-dot", static_cast<std::uint32_t>(t.labels - 1));
      }
    }
  }
  // appended-tld for protected TLDs: the TLD as a label inside the subdomain part, after a
  // name (army.mil.evil.com for mil). Not in the registrable name itself: mil.ru, mil.com are
  // somebody's own domains, and x.mil.ml is already a TLD typo.
  if (count_labels(left) >= 3) {
    const std::vector<std::string_view> sub = split_labels(left);
    for (std::size_t i = 1; i + 1 < sub.size(); ++i) {
      if (auto it = tld_by_name.find(std::string(sub[i])); it != tld_by_name.end()) {
        for (const std::uint32_t idx : it->second) offer(best, *targets[idx].rule, targets[idx].ascii, "appended-tld", 1);
      }
    }
  }
}

void Matcher::Impl::match_tld(std::string_view suffix, std::string_view left,
                              std::optional<Candidate>& best) const {
  // Every name under the observed suffix would match, so only suffixes that really exist.
  if (left.empty()) return;
  const std::string s(suffix);
  if (psl_is_public_suffix2(psl, s.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) == 0) return;
  const std::u32string obs = utf8_to_utf32(s);
  TargetList candidates;
  tld_index.query(obs, candidates);
  for (const std::uint32_t idx : candidates) {
    const Target& t = targets[idx];
    const std::uint32_t dist = osa_distance(t.text, obs, t.rule->max_distance);
    if (dist >= 1 && dist <= t.rule->max_distance) offer_script(t, obs, true, best);
  }
}

std::optional<Match> Matcher::Impl::match(std::string_view input) const {
  auto norm = normalise_domain(input);
  if (!norm) return std::nullopt;
  const NormalisedDomain& d = *norm;
  const std::string_view ascii = d.ascii;

  // Deny list first: "watch" is an explicit decision to always alert.
  const ProtectRule* watched = nullptr;
  auto consider_watch = [&](const std::vector<const ProtectRule*>& rs) {
    for (const ProtectRule* r : rs) {
      if (watched == nullptr || r->id < watched->id) watched = r;
    }
  };
  if (auto it = watch_exact.find(d.ascii); it != watch_exact.end()) consider_watch(it->second);
  for (std::size_t i = 0; i < ascii.size(); ++i) {
    if (ascii[i] != '.') continue;
    if (auto it = watch_below.find(std::string(ascii.substr(i + 1))); it != watch_below.end()) consider_watch(it->second);
  }
  if (watched != nullptr) {
    return Match{watched, d.ascii, d.unicode, watched->wildcard ? "*." + watched->domain : watched->domain,
                 "watch-list", 0};
  }

  // Allowed, or owned by whoever owns a protected domain: never an alert.
  if (allow_exact.contains(d.ascii) || protected_exact.contains(d.ascii)) return std::nullopt;
  for (std::size_t i = 0; i < ascii.size(); ++i) {
    if (ascii[i] != '.') continue;
    const std::string parent(ascii.substr(i + 1));
    if (allow_below.contains(parent) || protected_exact.contains(parent)) return std::nullopt;
  }

  const std::size_t labels = count_labels(ascii);
  const char* reg = psl_registrable_domain(psl, d.ascii.c_str());
  std::string_view suffix = ascii;
  std::string_view left;
  if (reg != nullptr) {
    const std::string_view r(reg);
    suffix = r.substr(std::min(r.find('.') + 1, r.size()));
    left = ascii.substr(0, ascii.size() - suffix.size() - 1);
  }

  std::optional<Candidate> best;
  match_edits(d, labels, best);
  match_structure(d, labels, left, best);
  match_tld(suffix, left, best);
  if (!best) return std::nullopt;
  // A broken xn-- label close to a protected name is a deliberate trick, or a broken client.
  if (d.malformed_idn) best->technique = "malformed-idn";
  return Match{best->rule, d.ascii, d.unicode, std::move(best->protected_domain), std::move(best->technique),
               best->distance};
}

Matcher::Matcher(std::shared_ptr<const RuleSet> rules) : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
  impl_->psl_owned.reset(psl_latest(nullptr));
  impl_->psl = impl_->psl_owned ? impl_->psl_owned.get() : psl_builtin();
  UErrorCode st = U_ZERO_ERROR;
  impl_->spoof.reset(uspoof_open(&st));
  if (U_FAILURE(st) || !impl_->spoof || impl_->psl == nullptr) {
    throw std::runtime_error("detect: cannot initialise ICU spoof checker or public suffix list");
  }
  impl_->build();
}

Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

std::optional<Match> Matcher::match(std::string_view domain) const { return impl_->match(domain); }

const RuleSet& Matcher::rules() const { return *impl_->rules; }

}  // namespace rcptwatch::detect
