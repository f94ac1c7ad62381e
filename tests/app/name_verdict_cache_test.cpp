// The pipeline's own verdict cache (app/name_verdict_cache.h) in front of the matchers'.
#include "app/name_verdict_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "alert/sink.h"
#include "app/encrypted_watch.h"
#include "detect/rules.h"

namespace rcptwatch::app {
namespace {

std::shared_ptr<const detect::Matcher> matcher_for(const char* rules_text) {
  auto rules = detect::parse_rules(rules_text, "<test>");
  EXPECT_TRUE(rules);
  return std::make_shared<const detect::Matcher>(*rules);
}

NameVerdict verdict_of(const detect::Matcher& m, std::string_view name) {
  auto match = m.match(name);
  EXPECT_TRUE(match) << name;
  return NameVerdict{match ? *match : detect::Match{}, false};
}

TEST(NameVerdictCache, KeepsWhatItWasGivenForTheSameMatchers) {
  const auto m = matcher_for("protect nato.int\n");
  NameVerdictCache c(7);
  EXPECT_EQ(c.find("nat0.int", m.get(), nullptr), nullptr);
  c.put("nat0.int", verdict_of(*m, "nat0.int"));
  EXPECT_EQ(c.find("example.org", m.get(), nullptr), nullptr);
  c.put("example.org", std::nullopt);

  const std::optional<NameVerdict>* hit = c.find("nat0.int", m.get(), nullptr);
  ASSERT_NE(hit, nullptr);
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->match.domain, "nat0.int");
  EXPECT_EQ((*hit)->match.protected_domain, "nato.int");
  const std::optional<NameVerdict>* none = c.find("example.org", m.get(), nullptr);
  ASSERT_NE(none, nullptr);
  EXPECT_FALSE(none->has_value());
  // Same length, one letter apart: not the same name.
  EXPECT_EQ(c.find("nat0.inx", m.get(), nullptr), nullptr);
  EXPECT_EQ(c.find("example.orh", m.get(), nullptr), nullptr);
  EXPECT_EQ(c.hits(), 2u);

  // A verdict replaced in its line: a name that matched and now does not (a reused line).
  c.put("nat0.int", std::nullopt);
  hit = c.find("nat0.int", m.get(), nullptr);
  ASSERT_NE(hit, nullptr);
  EXPECT_FALSE(hit->has_value());
}

// Verdicts belong to the matchers that gave them: a reload or a new learned matcher empties it.
TEST(NameVerdictCache, AnotherMatcherEmptiesIt) {
  const auto a = matcher_for("protect nato.int\n");
  const auto b = matcher_for("protect army.mil\n");
  NameVerdictCache c(7);
  c.find("nat0.int", a.get(), nullptr);
  c.put("nat0.int", verdict_of(*a, "nat0.int"));
  EXPECT_EQ(c.find("nat0.int", b.get(), nullptr), nullptr);
  c.put("nat0.int", std::nullopt);
  EXPECT_EQ(c.find("nat0.int", b.get(), a.get()), nullptr);
  c.put("nat0.int", std::nullopt);
  EXPECT_NE(c.find("nat0.int", b.get(), a.get()), nullptr);
}

TEST(NameVerdictCache, NamesLongerThanALineHoldsAreNotKept) {
  const auto m = matcher_for("protect nato.int\n");
  NameVerdictCache c(7);
  const std::string longest(NameVerdictCache::kMaxName, 'a');
  const std::string too_long(NameVerdictCache::kMaxName + 1, 'a');
  c.find(longest, m.get(), nullptr);
  c.put(longest, std::nullopt);
  c.find(too_long, m.get(), nullptr);
  c.put(too_long, std::nullopt);
  EXPECT_NE(c.find(longest, m.get(), nullptr), nullptr);
  EXPECT_EQ(c.find(too_long, m.get(), nullptr), nullptr);
  // Every length up to the limit, including the short ones the hash reads differently.
  for (std::size_t n = 1; n <= NameVerdictCache::kMaxName; ++n) {
    const std::string name = std::string(n - 1, 'q') + "z";
    c.find(name, m.get(), nullptr);
    c.put(name, std::nullopt);
    EXPECT_NE(c.find(name, m.get(), nullptr), nullptr) << n;
  }
}

// Bounded, and a name in use survives any stream of new ones: each set has two ways and a new
// name takes the one not used last. Direct-mapped, the busy name would be evicted by the first
// new name of its set.
TEST(NameVerdictCache, ANameInUseSurvivesAStreamOfNewOnes) {
  const auto m = matcher_for("protect nato.int\n");
  NameVerdictCache c(11);
  c.find("busy.example", m.get(), nullptr);
  c.put("busy.example", std::nullopt);
  for (int i = 0; i < 20000; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example";
    ASSERT_EQ(c.find(name, m.get(), nullptr), nullptr);
    c.put(name, std::nullopt);
    ASSERT_NE(c.find("busy.example", m.get(), nullptr), nullptr) << "evicted by " << name;
  }
  int kept = 0;
  for (int i = 0; i < 20000; ++i) {
    if (c.find("host" + std::to_string(i) + ".example", m.get(), nullptr) != nullptr) ++kept;
  }
  EXPECT_LE(kept, static_cast<int>(NameVerdictCache::kEntries));
  EXPECT_GT(kept, 0);
}

class NullSink final : public alert::AlertSink {
 public:
  void write_alert(const alert::Alert&) override {}
  void write_event_json(std::string_view) override {}
  void flush() override {}
};

// Through EncryptedWatch::judge_name: the same verdicts as the matchers give, cached or not,
// and the switch to another matcher (a reload) is seen at once.
TEST(NameVerdictCache, JudgeNameGivesTheMatchersVerdicts) {
  std::shared_ptr<const detect::Matcher> matcher = matcher_for("protect nato.int\nprotect army.mil\n");
  std::shared_ptr<const detect::Matcher> learned;
  NullSink sink;
  EncryptedWatch watch(matcher, learned, sink);
  for (int round = 0; round < 3; ++round) {
    for (const char* name : {"nat0.int", "army.ml", "example.org", "nato.int"}) {
      const auto direct = matcher->match(name);
      const auto judged = watch.judge_name(name);
      ASSERT_EQ(direct.has_value(), judged.has_value()) << name;
      if (direct) {
        EXPECT_EQ(judged->match.protected_domain, direct->protected_domain);
        EXPECT_EQ(judged->match.technique, direct->technique);
        EXPECT_FALSE(judged->learned);
      }
    }
  }
  EXPECT_EQ(watch.verdict_cache().misses(), 4u);
  EXPECT_EQ(watch.verdict_cache().hits(), 8u);
  matcher = matcher_for("protect example.org\n");  // what a reload does to the Pipeline's pointer
  EXPECT_FALSE(watch.judge_name("nat0.int"));
  EXPECT_FALSE(watch.judge_name("example.org"));  // at the protected domain itself
  EXPECT_TRUE(watch.judge_name("examp1e.org"));
}

}  // namespace
}  // namespace rcptwatch::app
