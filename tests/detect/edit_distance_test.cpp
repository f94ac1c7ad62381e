// Damerau-Levenshtein (OSA) distance and edit scripts.
#include "detect/edit_distance.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rcptwatch::detect {
namespace {

struct DistCase {
  std::u32string p, o;
  std::uint32_t d;
};

TEST(EditDistance, Distances) {
  const DistCase cases[] = {
      {U"nato", U"nato", 0}, {U"nato", U"nat0", 1}, {U"nato", U"anto", 1}, {U"nato", U"nto", 1},
      {U"nato", U"natto", 1}, {U"mil", U"ml", 1},   {U"abc", U"", 3},      {U"", U"ab", 2},
      {U"ca", U"abc", 3},     {U"boeing", U"boeinq", 1}, {U"army", U"navy", 3},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(osa_script(c.p, c.o).distance, c.d);
    EXPECT_EQ(osa_distance(c.p, c.o, 10), c.d);
  }
}

TEST(EditDistance, CapStopsEarly) {
  EXPECT_EQ(osa_distance(U"a", U"abcdef", 1), 2u);
  EXPECT_EQ(osa_distance(U"army", U"navy", 1), 2u);
}

struct OpCase {
  std::u32string p, o;
  EditKind kind;
  std::size_t ppos;
};

TEST(EditDistance, SingleOpScripts) {
  const OpCase cases[] = {
      {U"nato", U"nto", EditKind::Omission, 1},
      {U"nato", U"natxo", EditKind::Insertion, 3},
      {U"nato", U"natu", EditKind::Replacement, 3},
      {U"nato", U"anto", EditKind::Transposition, 0},
      {U"int", U"itn", EditKind::Transposition, 1},
  };
  for (const auto& c : cases) {
    const EditScript s = osa_script(c.p, c.o);
    ASSERT_EQ(s.ops.size(), 1u);
    EXPECT_EQ(s.ops[0].kind, c.kind);
    EXPECT_EQ(s.ops[0].protected_pos, c.ppos);
  }
}

// Random pairs from a small alphabet (many repeats, swaps and shared runs), including
// non-ASCII code points: the fast paths must agree with the full matrix exactly.
std::u32string random_text(std::mt19937& rng, std::size_t max_len) {
  static constexpr char32_t kAlphabet[] = {U'a', U'b', U'c', U'.', U'-', U'\u0430', U'\u00fc'};
  std::u32string s(std::uniform_int_distribution<std::size_t>(0, max_len)(rng), U'a');
  for (char32_t& c : s) c = kAlphabet[std::uniform_int_distribution<std::size_t>(0, std::size(kAlphabet) - 1)(rng)];
  return s;
}

TEST(EditDistance, BitParallelEqualsMatrix) {
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const std::u32string a = random_text(rng, i % 10 == 0 ? 64 : 12);
    std::u32string b = random_text(rng, 12);
    if (i % 2 == 0 && !a.empty()) {  // near copies, so small distances are common
      b = a;
      b[std::uniform_int_distribution<std::size_t>(0, b.size() - 1)(rng)] = U'c';
      if (b.size() > 1) std::swap(b[0], b[1]);
    }
    const std::uint32_t full = osa_script(a, b).distance;
    EXPECT_EQ(OsaPattern(a).distance(b), full) << i;
    EXPECT_EQ(OsaPattern(b).distance(a), full) << i;
  }
}

TEST(EditDistance, BoundedScriptEqualsFullScript) {
  std::mt19937 rng(9);
  for (int i = 0; i < 20000; ++i) {
    const std::u32string a = random_text(rng, 9);
    std::u32string b = a;
    for (int k = i % 4; k > 0 && !b.empty(); --k) {
      const std::size_t pos = std::uniform_int_distribution<std::size_t>(0, b.size() - 1)(rng);
      if (k % 2 == 0) b.erase(pos, 1); else b.insert(pos, 1, U'b');
    }
    const EditScript full = osa_script(a, b);
    for (std::uint32_t cap = 0; cap <= kMaxBoundedEdits; ++cap) {
      BoundedEditScript bounded;
      const bool ok = osa_script_bounded(a, b, cap, bounded);
      ASSERT_EQ(ok, full.distance <= cap) << i;
      if (!ok) continue;
      ASSERT_EQ(bounded.distance, full.distance);
      for (std::size_t k = 0; k < full.ops.size(); ++k) {
        EXPECT_EQ(bounded.ops[k].kind, full.ops[k].kind) << i;
        EXPECT_EQ(bounded.ops[k].protected_pos, full.ops[k].protected_pos) << i;
        EXPECT_EQ(bounded.ops[k].observed_pos, full.ops[k].observed_pos) << i;
        EXPECT_EQ(bounded.ops[k].expected, full.ops[k].expected) << i;
        EXPECT_EQ(bounded.ops[k].observed, full.ops[k].observed) << i;
      }
    }
  }
}

// Every pair of texts over three letters up to length 5 (132,496 pairs, 6,564 one edit apart): the cap-1 script,
// worked out without the matrix, is the full back-trace's, runs of equal letters included.
TEST(EditDistance, OneEditScriptEqualsFullScriptExhaustively) {
  std::vector<std::u32string> texts{U""};
  for (std::size_t begin = 0, len = 0; len < 5; ++len) {
    const std::size_t end = texts.size();
    for (std::size_t t = begin; t < end; ++t) {
      for (const char32_t c : {U'a', U'b', U'c'}) texts.push_back(texts[t] + c);
    }
    begin = end;
  }
  ASSERT_EQ(texts.size(), 364u);
  std::size_t one_edit = 0;
  for (const std::u32string& a : texts) {
    for (const std::u32string& b : texts) {
      const EditScript full = osa_script(a, b);
      BoundedEditScript bounded;
      const bool ok = osa_script_bounded(a, b, 1, bounded);
      ASSERT_EQ(ok, full.distance <= 1);
      if (!ok) continue;
      ASSERT_EQ(bounded.distance, full.distance);
      if (full.distance == 0) continue;
      ++one_edit;
      const EditOp& x = bounded.ops[0];
      const EditOp& y = full.ops[0];
      ASSERT_TRUE(x.kind == y.kind && x.protected_pos == y.protected_pos && x.observed_pos == y.observed_pos &&
                  x.expected == y.expected && x.observed == y.observed);
    }
  }
  EXPECT_EQ(one_edit, 6564u);  // pairs at distance 1, counted by the full script
}

}  // namespace
}  // namespace rcptwatch::detect
