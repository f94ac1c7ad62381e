// Learner: promotion by thresholds, the learned matcher (typos of established correspondents
// match, with learned rule ids; the correspondents themselves and unrelated names do not),
// lookalikes never promoted, forget and restarts, configured allow rules.
#include <gtest/gtest.h>

#include <fstream>

#include "detect/matcher.h"
#include "detect/rules.h"
#include "learn/learner.h"
#include "test_util.h"

namespace rcptwatch::learn {
namespace {

using testing::add_messages;

std::shared_ptr<const detect::Matcher> configured(std::string_view text = "protect mil\nprotect nato.int\n") {
  auto rules = detect::parse_rules(text, "<test>");
  EXPECT_TRUE(rules);
  return std::make_shared<const detect::Matcher>(*rules);
}

class LearnerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Learner> open(std::shared_ptr<const detect::Matcher> rules = configured()) {
    LearnConfig c;
    c.state_dir = dir_.path() / "state";  // created by open()
    c.min_messages = 5;
    c.min_senders = 2;
    auto l = Learner::open(c, std::move(rules));
    EXPECT_TRUE(l) << l.error();
    return l ? std::move(*l) : nullptr;
  }
  static bool flush(Learner& l, const ObservationBatch& b, std::int64_t now_s = 1'700'100'000) {
    auto r = l.flush(b, Timestamp::from_seconds(now_s));
    EXPECT_TRUE(r) << r.error();
    return r.value_or(false);
  }
  static ObservationBatch history() {
    ObservationBatch b;
    add_messages(b, "partner-firm.example", 6, {"alice@example.org", "carol@example.org", "dave@example.org"});
    add_messages(b, "contoso-defence.co.uk", 5, {"alice@example.org", "dave@example.org"});
    add_messages(b, "one-sender.example", 8, {"alice@example.org"});
    add_messages(b, "rare.example", 2, {"alice@example.org", "carol@example.org"});
    return b;
  }
  testing::ScratchDir dir_;
};

TEST_F(LearnerTest, ThresholdsDecideWhoIsEstablished) {
  auto l = open();
  EXPECT_EQ(l->matcher(), nullptr);
  EXPECT_TRUE(flush(*l, history()));
  EXPECT_EQ(l->counters().established, 2u);
  EXPECT_EQ(l->counters().promoted, 2u);
  EXPECT_EQ(l->counters().domains, 4u);
  ASSERT_NE(l->matcher(), nullptr);
  EXPECT_EQ(l->matcher()->rules().rules().size(), 2u);
  // Nothing new: no rebuild.
  EXPECT_FALSE(flush(*l, ObservationBatch()));
}

TEST_F(LearnerTest, LearnedMatcherFlagsTyposOnly) {
  auto l = open();
  flush(*l, history());
  const auto m = l->matcher();
  ASSERT_NE(m, nullptr);
  auto typo = m->match("partner-frim.example");
  ASSERT_TRUE(typo);
  EXPECT_EQ(typo->protected_domain, "partner-firm.example");
  EXPECT_EQ(typo->technique, "transposition");
  EXPECT_GE(typo->rule->id, kLearnedIdBase);
  EXPECT_EQ(typo->rule->msg, "Lookalike of learned correspondent partner-firm.example");
  auto second = m->match("contoso-defense.co.uk");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->protected_domain, "contoso-defence.co.uk");
  EXPECT_NE(second->rule->id, typo->rule->id);
  for (const char* benign : {"partner-firm.example", "mail.partner-firm.example", "contoso-defence.co.uk",
                             "brand-new-unrelated.example", "example.org", "one-sender.example"}) {
    EXPECT_FALSE(m->match(benign)) << benign;
  }
  // Not established: rare.example and one-sender.example are not protected.
  EXPECT_FALSE(m->match("rare.exampel"));
  EXPECT_FALSE(m->match("one-sendr.example"));
}

TEST_F(LearnerTest, EstablishedCorrespondentsNeverMatchEachOther) {
  auto l = open();
  ObservationBatch b;
  add_messages(b, "contoso-defence.co.uk", 5, {"a@example.org", "b@example.org"});
  add_messages(b, "contoso-defense.co.uk", 5, {"a@example.org", "b@example.org"});  // same flush: both
  flush(*l, b);
  ASSERT_EQ(l->counters().established, 2u);
  EXPECT_FALSE(l->matcher()->match("contoso-defense.co.uk"));
  EXPECT_FALSE(l->matcher()->match("contoso-defence.co.uk"));
  EXPECT_TRUE(l->matcher()->match("contoso-defensе.co.uk"));  // Cyrillic е: a lookalike of both
}

TEST_F(LearnerTest, LookalikesAreNeverPromoted) {
  auto l = open();
  flush(*l, history());
  ObservationBatch b;
  add_messages(b, "partner-frim.example", 9, {"a@example.org", "b@example.org", "c@example.org"});
  add_messages(b, "army.ml", 9, {"a@example.org", "b@example.org"});  // a configured lookalike
  EXPECT_FALSE(flush(*l, b));
  EXPECT_EQ(l->counters().established, 2u);
  EXPECT_EQ(l->counters().candidates_lookalike, 2u);
  EXPECT_TRUE(l->matcher()->match("partner-frim.example"));
}

TEST_F(LearnerTest, SurvivesARestart) {
  {
    auto l = open();
    flush(*l, history());
  }
  auto l = open();
  ASSERT_NE(l->matcher(), nullptr);  // from the store, before any flush
  EXPECT_EQ(l->counters().established, 2u);
  EXPECT_TRUE(l->matcher()->match("partner-frim.example"));
}

TEST_F(LearnerTest, ForgottenDomainsLeaveAtTheNextFlush) {
  auto l = open();
  flush(*l, history());
  {
    auto s = CorrespondentStore::open(dir_.path() / "state" / kStoreFileName, CorrespondentStore::Access::Existing);
    ASSERT_TRUE(s) << s.error();
    ASSERT_TRUE(s->forget("partner-firm.example").value_or(false));
  }
  EXPECT_TRUE(flush(*l, ObservationBatch()));
  EXPECT_EQ(l->counters().established, 1u);
  EXPECT_FALSE(l->matcher()->match("partner-frim.example"));
  EXPECT_TRUE(l->matcher()->match("contoso-defense.co.uk"));
}

TEST_F(LearnerTest, ConfiguredAllowRulesApplyToLearnedOnes) {
  auto l = open(configured("protect mil\nallow partner-frim.example\n"));
  flush(*l, history());
  EXPECT_FALSE(l->matcher()->match("partner-frim.example"));
  EXPECT_TRUE(l->matcher()->match("partner-fimr.example"));
  // A reload without the allow rule brings the alert back.
  EXPECT_TRUE(l->set_configured(configured("protect mil\n")));
  EXPECT_TRUE(l->matcher()->match("partner-frim.example"));
}

TEST(LearnedRules, ShortNamesGetDistanceZero) {
  std::vector<CorrespondentRecord> established(2);
  established[0].id = 1;
  established[0].domain = "ab.com";
  established[1].id = 2;
  established[1].domain = "northwind-traders.example";
  const auto m = build_learned_matcher(established, nullptr);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->rules().rules()[0].max_distance, 0u);
  EXPECT_EQ(m->rules().rules()[0].id, kLearnedIdBase + 1);
  EXPECT_EQ(m->rules().rules()[0].source, "learned:ab.com");
  EXPECT_EQ(m->rules().rules()[1].max_distance, 2u);  // the loader's default for long labels
  EXPECT_FALSE(m->match("ax.com"));  // one replacement: a match at the default distance 1
  EXPECT_FALSE(m->match("abc.com"));
  EXPECT_TRUE(m->match("northwlnd-traders.example"));
  EXPECT_EQ(build_learned_matcher({}, nullptr), nullptr);
}

TEST(LearnerOpen, UnusableStateDirectories) {
  testing::ScratchDir dir;
  const auto file = dir.path() / "plain-file";
  std::ofstream(file) << "x";
  LearnConfig c;
  c.state_dir = file / "sub";
  auto l = Learner::open(c, configured());
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().find(c.state_dir.string() + ": cannot create"), std::string::npos) << l.error();
  c.state_dir = file;
  l = Learner::open(c, configured());
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().find(file.string() + ": cannot create: Not a directory"), std::string::npos) << l.error();
}

}  // namespace
}  // namespace rcptwatch::learn
