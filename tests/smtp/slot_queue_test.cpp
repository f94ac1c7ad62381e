// The session's ring of reusable slots against a std::deque model: random pushes and pops
// through growth and wrap-around keep FIFO order and indexing, and a slot pushed again is the
// same object with what its last user left in it (that is the point: its capacity survives).
#include "smtp/slot_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>

namespace rcptwatch::smtp {
namespace {

TEST(SlotQueue, MatchesADequeUnderChurn) {
  SlotQueue<int> queue;
  std::deque<int> model;
  std::mt19937 rng(7);
  int next = 0;
  for (int step = 0; step < 100000; ++step) {
    if (model.size() < 300 && (rng() % 2 == 0 || model.empty())) {
      queue.push_back() = next;
      model.push_back(next++);
    } else {
      ASSERT_EQ(queue.front(), model.front());
      queue.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(queue.size(), model.size());
    ASSERT_EQ(queue.empty(), model.empty());
    if (!model.empty()) {
      ASSERT_EQ(queue.back(), model.back());
    }
    if (step % 101 == 0) {
      for (std::size_t i = 0; i < model.size(); ++i) ASSERT_EQ(queue[i], model[i]) << step;
    }
  }
  EXPECT_LE(queue.capacity(), 512u);  // grows by doubling to the high-water mark, no further
}

TEST(SlotQueue, ReusedSlotKeepsItsBuffer) {
  SlotQueue<std::string> queue;
  queue.push_back().assign(1000, 'x');
  const char* buffer = queue.front().data();
  const std::size_t slots = queue.capacity();
  queue.pop_front();
  // One at a time through the ring: the first slot comes round again after `slots` pushes.
  for (std::size_t i = 1; i < slots; ++i) {
    queue.push_back();
    queue.pop_front();
  }
  std::string& again = queue.push_back();
  EXPECT_EQ(again.data(), buffer);
  EXPECT_EQ(again.size(), 1000u);  // as its last user left it: the caller resets what it uses
  EXPECT_EQ(queue.capacity(), slots);
}

TEST(SlotQueue, ClearKeepsSlotsReleaseGivesThemBack) {
  SlotQueue<std::string> queue;
  for (int i = 0; i < 20; ++i) queue.push_back() = std::string(100, 'a');
  const std::size_t slots = queue.capacity();
  EXPECT_GE(slots, 20u);
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.capacity(), slots);
  std::size_t bytes = 0;
  queue.for_each_slot([&](const std::string& s) { bytes += s.size(); });
  EXPECT_EQ(bytes, 2000u);  // cleared, not destroyed
  queue.push_back() = "b";
  EXPECT_EQ(queue.front(), "b");
  queue.release();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.capacity(), 0u);
  queue.push_back() = "c";
  EXPECT_EQ(queue.front(), "c");
}

TEST(SlotQueue, GrowthKeepsOrderAcrossTheWrap) {
  SlotQueue<int> queue;
  for (int i = 0; i < 8; ++i) queue.push_back() = i;
  for (int i = 0; i < 5; ++i) queue.pop_front();  // head in the middle of the ring
  for (int i = 8; i < 30; ++i) queue.push_back() = i;  // wraps, then grows
  for (int want = 5; want < 30; ++want) {
    ASSERT_EQ(queue.front(), want);
    queue.pop_front();
  }
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace rcptwatch::smtp
