// Tests for FragmentReassembler on its own: every arrival order, overlaps, holes, caps,
// timeouts and the memory accounting that must return to zero.
#include "decode/fragment_reassembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace rcptwatch::decode {
namespace {

using Buf = std::vector<std::uint8_t>;

Buf pattern(std::size_t n) {
  Buf b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  return b;
}

FragmentKey key(std::uint32_t id) {
  const std::uint8_t a[4] = {10, 0, 0, 1};
  const std::uint8_t b[4] = {10, 0, 0, 2};
  return FragmentKey{IpAddress::v4(a), IpAddress::v4(b), id, 6};
}

struct Piece {
  std::uint32_t begin;
  std::uint32_t end;
  bool more;
};

FragmentPiece slice(const Buf& data, const Piece& p) {
  return FragmentPiece{p.begin, Bytes(data.data() + p.begin, p.end - p.begin), p.more, 6};
}

TEST(FragmentReassembler, EveryOrderOfOverlappingPiecesCompletesOnce) {
  const Buf data = pattern(80);
  // Overlapping, duplicated and adjacent pieces; the last one carries the end.
  const std::vector<Piece> pieces = {{0, 16, true},  {8, 32, true},  {32, 40, true},
                                     {24, 56, true}, {56, 64, true}, {64, 80, false}};
  std::vector<std::size_t> order(pieces.size());
  std::iota(order.begin(), order.end(), 0);
  int runs = 0;
  do {
    FragmentReassembler r(FragmentLimits{});
    DecodeCounters c;
    int completed = 0;
    for (std::size_t i : order) {
      const auto res = r.add(key(1), slice(data, pieces[i]), Timestamp{1}, c);
      if (res.outcome == FragmentOutcome::Complete) {
        ++completed;
        ASSERT_EQ(Buf(res.payload.begin(), res.payload.end()), data);
      } else {
        // Once complete, a straggler starts a new datagram; it must never be Dropped/Malformed.
        ASSERT_EQ(res.outcome, FragmentOutcome::Held);
      }
    }
    ASSERT_GE(completed, 1);
    EXPECT_EQ(c.fragments_reassembled, static_cast<std::uint64_t>(completed));
    ++runs;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(runs, 720);
}

TEST(FragmentReassembler, HolesKeepTheDatagramOpen) {
  const Buf data = pattern(48);
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  EXPECT_EQ(r.add(key(1), slice(data, {0, 8, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(1), slice(data, {40, 48, false}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(1), slice(data, {16, 32, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(1), slice(data, {8, 16, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);  // hole 32..40 remains
  EXPECT_EQ(r.datagrams_held(), 1u);
  const auto res = r.add(key(1), slice(data, {32, 40, true}), Timestamp{1}, c);
  ASSERT_EQ(res.outcome, FragmentOutcome::Complete);
  EXPECT_EQ(Buf(res.payload.begin(), res.payload.end()), data);
  EXPECT_EQ(c.fragments_overlap, 0u);
}

TEST(FragmentReassembler, OverlapKeepsFirstBytes) {
  const Buf first(24, 'A');
  const Buf second(24, 'B');
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  EXPECT_EQ(r.add(key(1), FragmentPiece{8, Bytes(first.data(), 16), true, 0}, Timestamp{1}, c)
                .outcome,
            FragmentOutcome::Held);
  // [0, 24) of B overlaps [8, 24) of A: only 0..8 come from B.
  EXPECT_EQ(r.add(key(1), FragmentPiece{0, Bytes(second.data(), 24), true, 0}, Timestamp{1}, c)
                .outcome,
            FragmentOutcome::Held);
  const auto res =
      r.add(key(1), FragmentPiece{24, Bytes(second.data(), 5), false, 0}, Timestamp{1}, c);
  ASSERT_EQ(res.outcome, FragmentOutcome::Complete);
  EXPECT_EQ(std::string(res.payload.begin(), res.payload.end()),
            std::string(8, 'B') + std::string(16, 'A') + std::string(5, 'B'));
  EXPECT_EQ(c.fragments_overlap, 1u);
}

TEST(FragmentReassembler, FirstNextHeaderComesFromTheFirstOffsetZeroFragment) {
  const Buf data = pattern(16);
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  r.add(key(1), FragmentPiece{0, Bytes(data.data(), 8), true, 60}, Timestamp{1}, c);
  r.add(key(1), FragmentPiece{0, Bytes(data.data(), 8), true, 17}, Timestamp{1}, c);
  const auto res = r.add(key(1), FragmentPiece{8, Bytes(data.data() + 8, 8), false, 6},
                         Timestamp{1}, c);
  ASSERT_EQ(res.outcome, FragmentOutcome::Complete);
  EXPECT_EQ(res.first_next_header, 60);
}

TEST(FragmentReassembler, RejectsInvalidPieces) {
  const Buf data = pattern(64);
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  struct Case {
    std::string name;
    FragmentPiece piece;
  };
  const std::vector<Case> cases = {
      {"middle not multiple of 8", FragmentPiece{0, Bytes(data.data(), 12), true, 0}},
      {"empty middle", FragmentPiece{8, Bytes(), true, 0}},
      {"past 65535", FragmentPiece{65528, Bytes(data.data(), 16), false, 0}},
  };
  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.name);
    EXPECT_EQ(r.add(key(1), cs.piece, Timestamp{1}, c).outcome, FragmentOutcome::Malformed);
  }
  EXPECT_EQ(r.datagrams_held(), 0u);
  // The largest legal end is exactly 65535.
  EXPECT_EQ(r.add(key(2), FragmentPiece{65528, Bytes(data.data(), 7), false, 0}, Timestamp{1}, c)
                .outcome,
            FragmentOutcome::Held);
}

TEST(FragmentReassembler, InconsistentEnds) {
  const Buf data = pattern(64);
  struct Case {
    std::string name;
    std::vector<Piece> pieces;  // the last one is the offender
  };
  const std::vector<Case> cases = {
      {"two different ends", {{48, 64, false}, {40, 56, false}}},
      {"data beyond the end", {{48, 64, true}, {32, 40, false}}},
      {"middle beyond the end", {{32, 40, false}, {40, 48, true}}},
  };
  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.name);
    FragmentReassembler r(FragmentLimits{});
    DecodeCounters c;
    for (std::size_t i = 0; i + 1 < cs.pieces.size(); ++i) {
      EXPECT_EQ(r.add(key(1), slice(data, cs.pieces[i]), Timestamp{1}, c).outcome,
                FragmentOutcome::Held);
    }
    EXPECT_EQ(r.add(key(1), slice(data, cs.pieces.back()), Timestamp{1}, c).outcome,
              FragmentOutcome::Dropped);
    EXPECT_EQ(c.fragments_dropped, cs.pieces.size());
    EXPECT_EQ(r.datagrams_held(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
  }
}

TEST(FragmentReassembler, TimeoutAndAccounting) {
  const Buf data = pattern(64);
  FragmentLimits limits;
  limits.timeout_usec = 100;
  FragmentReassembler r(limits);
  DecodeCounters c;
  r.add(key(1), slice(data, {0, 16, true}), Timestamp{1000}, c);
  r.add(key(2), slice(data, {16, 32, true}), Timestamp{1050}, c);
  EXPECT_EQ(r.datagrams_held(), 2u);
  EXPECT_EQ(r.bytes_held(), 16u + 32u);
  r.expire(Timestamp{1099}, c);
  EXPECT_EQ(r.datagrams_held(), 2u);
  r.expire(Timestamp{1100}, c);  // key 1 started at 1000
  EXPECT_EQ(r.datagrams_held(), 1u);
  EXPECT_EQ(r.bytes_held(), 32u);
  // Time going backwards expires nothing and breaks nothing.
  r.expire(Timestamp{5}, c);
  EXPECT_EQ(r.datagrams_held(), 1u);
  r.expire(Timestamp{1150}, c);
  EXPECT_EQ(r.datagrams_held(), 0u);
  EXPECT_EQ(r.bytes_held(), 0u);
  EXPECT_EQ(c.fragment_datagrams_expired, 2u);
  EXPECT_EQ(c.fragments_dropped, 2u);
}

TEST(FragmentReassembler, CompletionReleasesMemory) {
  const Buf data = pattern(64);
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  r.add(key(1), slice(data, {32, 64, false}), Timestamp{1}, c);
  EXPECT_EQ(r.bytes_held(), 64u);
  ASSERT_EQ(r.add(key(1), slice(data, {0, 32, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Complete);
  EXPECT_EQ(r.bytes_held(), 0u);
  EXPECT_EQ(r.datagrams_held(), 0u);
  // The completed datagram's deadline is gone too: a late expire counts nothing.
  r.expire(Timestamp{1'000'000'000}, c);
  EXPECT_EQ(c.fragment_datagrams_expired, 0u);
  EXPECT_EQ(c.fragments_dropped, 0u);
}

TEST(FragmentReassembler, Caps) {
  const Buf data = pattern(64);
  FragmentLimits limits;
  limits.max_datagrams = 3;
  limits.max_bytes = 100;
  limits.max_fragments_per_datagram = 4;
  FragmentReassembler r(limits);
  DecodeCounters c;
  EXPECT_EQ(r.add(key(1), slice(data, {0, 32, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(2), slice(data, {0, 32, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(3), slice(data, {0, 32, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Held);
  EXPECT_EQ(r.add(key(4), slice(data, {0, 8, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Dropped);  // datagram cap
  EXPECT_EQ(r.add(key(1), slice(data, {32, 48, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Dropped);  // 96 + 16 > 100 bytes
  EXPECT_EQ(r.bytes_held(), 96u);
  EXPECT_EQ(c.fragments_dropped, 2u);
  // Fragments-per-datagram cap: duplicates count too; the fifth drops the datagram.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.add(key(2), slice(data, {0, 8, true}), Timestamp{1}, c).outcome,
              FragmentOutcome::Held);
  }
  EXPECT_EQ(r.add(key(2), slice(data, {0, 8, true}), Timestamp{1}, c).outcome,
            FragmentOutcome::Dropped);
  EXPECT_EQ(c.fragments_dropped, 2u + 1u + 4u);
  EXPECT_EQ(r.datagrams_held(), 2u);
  EXPECT_EQ(r.bytes_held(), 64u);
}

TEST(FragmentReassembler, PayloadViewOutlivesLaterHeldFragments) {
  const Buf data = pattern(32);
  FragmentReassembler r(FragmentLimits{});
  DecodeCounters c;
  r.add(key(1), slice(data, {0, 16, true}), Timestamp{1}, c);
  const auto res = r.add(key(1), slice(data, {16, 32, false}), Timestamp{1}, c);
  ASSERT_EQ(res.outcome, FragmentOutcome::Complete);
  r.add(key(2), slice(data, {0, 16, true}), Timestamp{1}, c);
  EXPECT_EQ(Buf(res.payload.begin(), res.payload.end()), data);
}

}  // namespace
}  // namespace rcptwatch::decode
