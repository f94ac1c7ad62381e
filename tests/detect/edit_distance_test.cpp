// Damerau-Levenshtein (OSA) distance and edit scripts.
#include "detect/edit_distance.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace rcptwatch::detect
