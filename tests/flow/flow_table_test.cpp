// The tracker's slab and open-addressing index against a plain reference model: random
// inserts and erases with many equal tags (forced collisions), wrap-around runs and growth.
#include "flow/flow_table.h"

#include "common/flow_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

namespace rcptwatch::flow {
namespace {

TEST(FlowIndex, MatchesAReferenceModelUnderChurn) {
  FlowIndex index;
  std::map<std::uint32_t, std::uint32_t> model;  // ref -> tag
  std::mt19937 rng(1);
  std::uint32_t next_ref = 0;
  for (int step = 0; step < 200000; ++step) {
    // Few distinct tags, some near the top (their home is the last slot: runs wrap around).
    const std::uint32_t tag = (rng() % 4 == 0) ? 0xffffffffu - rng() % 8 : 1 + rng() % 5000;
    if (model.size() < 3000 && (rng() % 3 != 0 || model.empty())) {
      index.insert(tag, next_ref);
      model[next_ref++] = tag;
    } else {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      index.erase(it->second, it->first);
      model.erase(it);
    }
    ASSERT_EQ(index.size(), model.size());
    if (step % 997 == 0) {
      for (const auto& [ref, t] : model) {
        ASSERT_EQ(index.find(t, [&](std::uint32_t r) { return r == ref; }), ref) << "step " << step;
      }
      std::set<std::uint32_t> seen;
      index.for_each([&](std::uint32_t r) { seen.insert(r); });
      ASSERT_EQ(seen.size(), model.size());
    }
    ASSERT_LE(index.size() * 2, index.slot_count());
  }
  // Gone means gone: an erased reference is not found under its tag any more.
  EXPECT_EQ(index.find(1, [](std::uint32_t) { return true; }) == FlowIndex::kNone,
            std::none_of(model.begin(), model.end(), [](const auto& e) { return e.second == 1; }));
}

TEST(FlowIndex, ClearEmpties) {
  FlowIndex index;
  for (std::uint32_t i = 0; i < 1000; ++i) index.insert(FlowIndex::tag_of(std::uint64_t{i} * 0x9e3779b97f4a7c15ULL), i);
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.find(5, [](std::uint32_t) { return true; }), FlowIndex::kNone);
  EXPECT_EQ(FlowIndex::tag_of(0), 1u);  // 0 marks an empty slot
}

struct Counted {
  explicit Counted(int* live, std::string v) : live_(live), value(std::move(v)) { ++*live_; }
  ~Counted() { --*live_; }
  int* live_;
  std::string value;
};

// The tracker files flows by the top 32 bits of FlowKeyHash (the tag, which also picks the home
// slot). Keys a scan or a flood would send, one port or one address apart, must spread: few
// equal tags, every home bucket of a 4,096-slot table used about equally, and another seed
// a different layout.
TEST(FlowKeyHash, SpreadsKeysThatDifferInOneField) {
  const FlowKeyHash hash(0x0123456789abcdefULL);
  const FlowKeyHash other(0x0123456789abcdeeULL);
  const IpAddress server = IpAddress::v4(std::array<std::uint8_t, 4>{192, 0, 2, 25}.data());
  std::set<std::uint32_t> tags;
  std::vector<int> buckets(4096);
  int same_in_other_seed = 0;
  int n = 0;
  for (std::uint32_t host = 0; host < 64; ++host) {
    const std::array<std::uint8_t, 4> a{10, 0, static_cast<std::uint8_t>(host / 256), static_cast<std::uint8_t>(host)};
    const IpAddress client = IpAddress::v4(a.data());
    for (std::uint32_t port = 1024; port < 1024 + 1024; ++port) {
      const FlowKey k = FlowKey::of(client, static_cast<std::uint16_t>(port), server, 25);
      const std::uint32_t tag = FlowIndex::tag_of(hash(k));
      tags.insert(tag);
      ++buckets[(std::uint64_t{tag} * buckets.size()) >> 32];
      same_in_other_seed += FlowIndex::tag_of(other(k)) == tag ? 1 : 0;
      ++n;
    }
  }
  EXPECT_GE(tags.size(), static_cast<std::size_t>(n) - 10);  // 65,536 keys in 2^32 tags: ~0.5 equal pairs expected
  const auto [lo, hi] = std::minmax_element(buckets.begin(), buckets.end());
  EXPECT_GE(*lo, 16 / 2 - 6);  // 16 per bucket on average; a binomial spread stays within this
  EXPECT_LE(*hi, 16 * 2 + 10);
  EXPECT_LE(same_in_other_seed, 5);
  // Both directions of a connection are the same flow.
  const IpAddress c = IpAddress::v4(std::array<std::uint8_t, 4>{10, 0, 0, 7}.data());
  EXPECT_EQ(hash(FlowKey::of(c, 40000, server, 25)), hash(FlowKey::of(server, 25, c, 40000)));
}

TEST(Slab, ReusesPlacesKeepsAddressesAndDestroysWhatIsLeft) {
  int live = 0;
  {
    Slab<Counted> slab;
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(slab.create(&live, "object number " + std::to_string(i)));
    const Counted* first = &slab[ids[0]];
    for (int i = 0; i < 1000; i += 2) slab.destroy(ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(live, 500);
    EXPECT_EQ(slab.size(), 500u);
    // Freed places are handed out again before any new chunk.
    std::set<std::uint32_t> again;
    for (int i = 0; i < 500; ++i) again.insert(slab.create(&live, "again"));
    EXPECT_EQ(*again.rbegin(), 998u);
    EXPECT_EQ(&slab[ids[0]], first);  // objects never move
    EXPECT_EQ(slab[ids[1]].value, "object number 1");
    EXPECT_EQ(live, 1000);
  }
  EXPECT_EQ(live, 0);  // the destructor destroyed the live ones (ASan checks the strings)
}

}  // namespace
}  // namespace rcptwatch::flow
