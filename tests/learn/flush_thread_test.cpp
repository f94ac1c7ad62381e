// FlushThread: batches written off the calling thread with the same results as Learner::flush
// (the learned matcher arrives through take()), batches that queue up merged rather than lost,
// stop() writing what is queued, and SIGHUP's with_learner() not overtaken by an older outcome.
#include "learn/flush_thread.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "detect/matcher.h"
#include "detect/rules.h"
#include "test_util.h"

namespace rcptwatch::learn {
namespace {

using testing::add_messages;

std::shared_ptr<const detect::Matcher> configured(std::string_view text) {
  auto rules = detect::parse_rules(text, "<test>");
  EXPECT_TRUE(rules);
  return std::make_shared<const detect::Matcher>(*rules);
}

class FlushThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LearnConfig c;
    c.state_dir = dir_.path() / "state";
    c.min_messages = 5;
    c.min_senders = 2;
    auto l = Learner::open(c, configured("protect mil\n"));
    ASSERT_TRUE(l) << l.error();
    learner_ = std::move(*l);
  }
  // Waits (bounded) for an outcome.
  static std::optional<FlushThread::Outcome> wait_outcome(FlushThread& t) {
    for (int i = 0; i < 500; ++i) {
      if (auto o = t.take()) return o;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }
  testing::ScratchDir dir_;
  std::unique_ptr<Learner> learner_;
};

TEST_F(FlushThreadTest, TheLearnedMatcherArrivesThroughTake) {
  FlushThread t(*learner_);
  EXPECT_FALSE(t.take());
  ObservationBatch b;
  add_messages(b, "partner-firm.example", 6, {"alice@example.org", "carol@example.org"});
  t.submit(std::move(b), Timestamp::from_seconds(1'700'100'000));
  const auto o = wait_outcome(t);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->matcher_changed);
  ASSERT_NE(o->matcher, nullptr);
  EXPECT_TRUE(o->matcher->match("partner-frim.example"));
  EXPECT_FALSE(o->matcher->match("partner-firm.example"));
  EXPECT_EQ(o->established, 1u);
  EXPECT_EQ(o->failures, 0u);
  EXPECT_EQ(t.counters().flushes, 1u);
  EXPECT_FALSE(t.take());  // taken once
}

TEST_F(FlushThreadTest, QueuedBatchesAreMergedAndStopWritesThem) {
  auto t = std::make_unique<FlushThread>(*learner_);
  // Held off (as during a flush), so the next batches queue up behind it.
  t->with_learner([&](Learner&) {
    for (int i = 0; i < 3; ++i) {
      ObservationBatch b;
      add_messages(b, "contoso-defence.co.uk", 2, {i % 2 ? "alice@example.org" : "dave@example.org"});
      t->submit(std::move(b), Timestamp::from_seconds(1'700'100'000 + i));
    }
    return true;
  });
  t->stop();
  // 6 messages from 2 senders over the three batches: established only if none was lost (any
  // one batch alone has 2 messages from 1 sender), and written in at most two flushes.
  const auto o = t->take();
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->matcher_changed);
  EXPECT_EQ(o->established, 1u);
  EXPECT_GE(t->counters().flushes, 1u);
  EXPECT_LE(t->counters().flushes, 2u);
  t.reset();
  EXPECT_EQ(learner_->counters().established, 1u);  // the learner itself, after the thread
}

TEST_F(FlushThreadTest, WithLearnerOutcomeCarriesTheMatcherItLeft) {
  FlushThread t(*learner_);
  ObservationBatch b;
  add_messages(b, "partner-firm.example", 6, {"alice@example.org", "carol@example.org"});
  t.submit(std::move(b), Timestamp::from_seconds(1'700'100'000));
  t.stop();  // the outcome is ready, not taken
  // New configured rules allow a lookalike of the learned domain.
  const auto fresh = configured("protect mil\nallow partner-frim.example\n");
  const bool changed = t.with_learner([&](Learner& l) { return l.set_configured(fresh); });
  EXPECT_TRUE(changed);
  const auto o = t.take();
  ASSERT_TRUE(o);
  ASSERT_NE(o->matcher, nullptr);
  EXPECT_FALSE(o->matcher->match("partner-frim.example"));  // the new allow rule is in it
  EXPECT_TRUE(o->matcher->match("partner-flrm.example"));
}

}  // namespace
}  // namespace rcptwatch::learn
