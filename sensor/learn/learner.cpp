// Promotion of correspondents and the learned matcher (see learner.h).
#include "learn/learner.h"

#include <algorithm>
#include <system_error>

#include "detect/domain_name.h"
#include "detect/rules.h"

namespace rcptwatch::learn {
namespace {

bool same_domains(const std::vector<CorrespondentRecord>& a, const std::vector<CorrespondentRecord>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.id == y.id && x.domain == y.domain;
  });
}

// Two- and three-letter names at distance 1 would flag every other short name under the same
// suffix (uno.org for un.org); rules/README.md gives the shipped packs distance=0 for them.
bool short_name(std::string_view domain) {
  const std::vector<std::string_view> labels = detect::split_labels(domain);
  for (std::size_t i = 0; i + 1 < labels.size(); ++i) {
    if (labels[i].size() > 3) return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const detect::Matcher> build_learned_matcher(const std::vector<CorrespondentRecord>& established,
                                                             const detect::RuleSet* configured) {
  // The loader resolves each rule's defaults (distance by label length), so the learned rules
  // behave exactly like written ones; ids, messages and sources are then set here.
  std::string text;
  std::vector<const CorrespondentRecord*> taken;
  for (const CorrespondentRecord& r : established) {
    if (learnable_domain(r.domain) != r.domain) continue;  // a hand-edited row: not a rule
    text += "protect " + r.domain + (short_name(r.domain) ? " distance=0\n" : "\n");
    taken.push_back(&r);
  }
  if (taken.empty()) return nullptr;
  auto parsed = detect::parse_rules(text, "<learned>");
  if (!parsed || (*parsed)->rules().size() != taken.size()) return nullptr;  // cannot happen: checked above
  std::vector<detect::ProtectRule> rules((*parsed)->rules().begin(), (*parsed)->rules().end());
  std::vector<detect::AllowRule> allows;
  if (configured != nullptr) allows.assign(configured->allows().begin(), configured->allows().end());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const CorrespondentRecord& r = *taken[i];
    rules[i].id = kLearnedIdBase + static_cast<std::uint32_t>(r.id % 2'000'000'000);
    rules[i].msg = "Lookalike of learned correspondent " + r.domain;
    rules[i].source = "learned:" + r.domain;
    allows.push_back(detect::AllowRule{r.domain, false, rules[i].source});
  }
  return std::make_shared<const detect::Matcher>(
      std::make_shared<const detect::RuleSet>(std::move(rules), std::move(allows)));
}

tl::expected<std::unique_ptr<Learner>, std::string> Learner::open(const LearnConfig& config,
                                                                  std::shared_ptr<const detect::Matcher> configured) {
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  // Also refuses an existing file there ("Not a directory").
  if (ec) return tl::unexpected(config.state_dir.string() + ": cannot create: " + ec.message());
  auto store = CorrespondentStore::open(config.state_dir / kStoreFileName, CorrespondentStore::Access::Create,
                                        config.max_domains);
  if (!store) return tl::unexpected(store.error());
  std::unique_ptr<Learner> learner(new Learner(config, std::move(*store), std::move(configured)));
  if (auto r = learner->refresh(); !r) return tl::unexpected(r.error());
  return learner;
}

tl::expected<bool, std::string> Learner::refresh() {
  auto established = store_.established();
  if (!established) return tl::unexpected(established.error());
  auto count = store_.domain_count();
  if (!count) return tl::unexpected(count.error());
  counters_.domains = *count;
  counters_.established = established->size();
  if (same_domains(*established, established_)) return false;
  established_ = std::move(*established);
  learned_ = build_learned_matcher(established_, configured_ ? &configured_->rules() : nullptr);
  ++counters_.matcher_rebuilds;
  return true;
}

tl::expected<bool, std::string> Learner::flush(const ObservationBatch& batch, Timestamp now) {
  auto applied = store_.apply(batch);
  if (!applied) {
    ++counters_.store_errors;
    return tl::unexpected(applied.error());
  }
  ++counters_.flushes;
  counters_.observed.add(batch.counters());
  counters_.domains_added += applied->domains_added;
  counters_.domains_evicted += applied->evicted;

  auto candidates = store_.candidates(config_.min_messages, config_.min_senders);
  if (!candidates) return tl::unexpected(candidates.error());
  // A candidate that imitates a protected or already established domain is exactly what
  // this feature looks for (a lookalike used more than once); it is never promoted. To accept
  // one, add an `allow` rule, which the learned rules honour too.
  std::vector<std::int64_t> promote;
  counters_.candidates_lookalike = 0;
  for (const CorrespondentRecord& c : *candidates) {
    const bool lookalike = (configured_ && configured_->match(c.domain)) || (learned_ && learned_->match(c.domain));
    if (lookalike) {
      ++counters_.candidates_lookalike;
    } else {
      promote.push_back(c.id);
    }
  }
  if (auto r = store_.mark_established(promote, now); !r) return tl::unexpected(r.error());
  counters_.promoted += promote.size();
  return refresh();
}

bool Learner::set_configured(std::shared_ptr<const detect::Matcher> configured) {
  configured_ = std::move(configured);
  if (established_.empty()) return false;
  learned_ = build_learned_matcher(established_, configured_ ? &configured_->rules() : nullptr);
  ++counters_.matcher_rebuilds;
  return true;
}

}  // namespace rcptwatch::learn
