// Tests for the stream reassembler: the same chunks replayed in every order, duplicated and
// overlapped, conflicting retransmissions, losses, caps, wrap-around and wild jumps. Each test
// asserts the reconstructed stream (data with gap markers) byte for byte.
#include "reassembly/stream_reassembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace rcptwatch::reassembly {
namespace {

Bytes as_bytes(const std::string& s) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

std::string as_string(Bytes b) { return std::string(b.begin(), b.end()); }

// Writes the stream as text: data verbatim, gaps as "[gap N]"; conflicts listed apart.
class Recorder final : public StreamSink {
 public:
  void on_data(Bytes data) override {
    stream += as_string(data);
    last_data = data.data();
  }
  void on_gap(std::uint64_t length) override { stream += "[gap " + std::to_string(length) + "]"; }
  void on_conflict(Bytes alternative, std::uint64_t offset_back) override {
    conflicts.push_back(as_string(alternative) + "@" + std::to_string(offset_back));
  }

  std::string stream;
  std::vector<std::string> conflicts;
  const std::uint8_t* last_data = nullptr;
};

struct Chunk {
  std::uint64_t offset;  // stream offset of the first byte
  std::string bytes;
};

// Cuts `text` at the given offsets into chunks.
std::vector<Chunk> cut(const std::string& text, std::vector<std::size_t> cuts) {
  std::vector<Chunk> out;
  std::size_t from = 0;
  cuts.push_back(text.size());
  for (std::size_t to : cuts) {
    out.push_back({from, text.substr(from, to - from)});
    from = to;
  }
  return out;
}

class ReassemblerTest : public ::testing::Test {
 protected:
  // Inserts a chunk whose offset is relative to the byte after the SYN `isn`.
  void put(std::uint32_t isn, const Chunk& c) {
    r.insert(isn + 1 + static_cast<std::uint32_t>(c.offset), as_bytes(c.bytes), rec);
  }

  ReassemblyLimits limits;
  ReassemblyCounters counters;
  StreamReassembler r{limits, counters};
  Recorder rec;
};

const std::string kText = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@army.ml>\r\nDATA\r\n";

// --- sequence arithmetic ---------------------------------------------------------------

struct DistanceCase {
  std::uint32_t from;
  std::uint32_t to;
  std::int64_t expected;
};

TEST(SeqDistance, Rfc1982Table) {
  const DistanceCase cases[] = {
      {0, 0, 0},
      {0, 1, 1},
      {1, 0, -1},
      {0xFFFF'FFFFu, 0, 1},
      {0, 0xFFFF'FFFFu, -1},
      {0xFFFF'FFF0u, 0x10, 0x20},
      {0x10, 0xFFFF'FFF0u, -0x20},
      {0, 0x8000'0000u, std::int64_t{1} << 31},  // undefined in RFC 1982: we say ahead
      {0, 0x8000'0001u, -((std::int64_t{1} << 31) - 1)},
      {0, 0x7FFF'FFFFu, (std::int64_t{1} << 31) - 1},
      {0x8000'0000u, 0, std::int64_t{1} << 31},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(seq_distance(c.from, c.to), c.expected) << c.from << " -> " << c.to;
  }
}

TEST(SeqDistance, BeforeAcrossWrap) {
  EXPECT_TRUE(seq_before(0xFFFF'FFFFu, 0));
  EXPECT_FALSE(seq_before(0, 0xFFFF'FFFFu));
  EXPECT_TRUE(seq_before(1, 2));
  EXPECT_FALSE(seq_before(2, 2));
  EXPECT_FALSE(seq_before(2, 1));
  EXPECT_TRUE(seq_before(0xFFFF'FF00u, 0x100));
}

// --- every order ---------------------------------------------------------------------

class EveryOrder : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(EveryOrder, AllPermutationsOfSixChunksRebuildTheStream) {
  const std::uint32_t isn = GetParam();
  const auto chunks = cut(kText, {3, 11, 12, 30, 41});
  std::vector<std::size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), 0);
  int permutations = 0;
  do {
    ReassemblyLimits limits;
    ReassemblyCounters counters;
    StreamReassembler r(limits, counters);
    Recorder rec;
    r.set_initial_sequence(isn);
    for (std::size_t i : order) {
      r.insert(isn + 1 + static_cast<std::uint32_t>(chunks[i].offset), as_bytes(chunks[i].bytes),
               rec);
    }
    ASSERT_EQ(rec.stream, kText) << "permutation " << permutations;
    EXPECT_EQ(counters.retransmitted_bytes, 0u);
    EXPECT_EQ(counters.gaps, 0u);
    EXPECT_EQ(counters.buffered_bytes, 0u);
    EXPECT_EQ(r.buffered_bytes(), 0u);
    EXPECT_EQ(r.next_sequence(), isn + 1 + static_cast<std::uint32_t>(kText.size()));
    const bool sorted = std::is_sorted(order.begin(), order.end());
    EXPECT_EQ(counters.out_of_order_segments == 0, sorted);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 720);
}

TEST_P(EveryOrder, EveryChunkTwiceInEveryOrder) {
  const std::uint32_t isn = GetParam();
  const auto chunks = cut(kText, {5, 17, 18, 33, 40});
  std::vector<std::size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), 0);
  do {
    ReassemblyLimits limits;
    ReassemblyCounters counters;
    StreamReassembler r(limits, counters);
    Recorder rec;
    r.set_initial_sequence(isn);
    for (std::size_t i : order) {
      for (int copy = 0; copy < 2; ++copy) {
        r.insert(isn + 1 + static_cast<std::uint32_t>(chunks[i].offset),
                 as_bytes(chunks[i].bytes), rec);
      }
    }
    ASSERT_EQ(rec.stream, kText);
    EXPECT_EQ(counters.retransmitted_bytes, kText.size());
    EXPECT_EQ(counters.overlaps, chunks.size());
    EXPECT_EQ(counters.overlap_conflicts, 0u);
    EXPECT_TRUE(rec.conflicts.empty());
    EXPECT_EQ(counters.buffered_bytes, 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_P(EveryOrder, OverlappingChunksInEveryOrder) {
  const std::uint32_t isn = GetParam();
  // Partial retransmissions: each chunk overlaps its neighbours.
  const std::vector<std::pair<std::size_t, std::size_t>> ranges = {
      {0, 10}, {5, 20}, {15, 31}, {25, 40}, {36, 50}, {44, kText.size()}};
  std::vector<Chunk> chunks;
  std::size_t total = 0;
  for (auto [from, to] : ranges) {
    chunks.push_back({from, kText.substr(from, to - from)});
    total += to - from;
  }
  std::vector<std::size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), 0);
  do {
    ReassemblyLimits limits;
    ReassemblyCounters counters;
    StreamReassembler r(limits, counters);
    Recorder rec;
    r.set_initial_sequence(isn);
    for (std::size_t i : order) {
      r.insert(isn + 1 + static_cast<std::uint32_t>(chunks[i].offset), as_bytes(chunks[i].bytes),
               rec);
    }
    ASSERT_EQ(rec.stream, kText);
    EXPECT_EQ(counters.retransmitted_bytes, total - kText.size());
    EXPECT_EQ(counters.overlap_conflicts, 0u);
    EXPECT_EQ(counters.buffered_bytes, 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

INSTANTIATE_TEST_SUITE_P(Isn, EveryOrder,
                         ::testing::Values(1000u, 0xFFFF'FFF0u, 0xFFFF'FFFFu, 0x7FFF'FFF0u));

TEST_F(ReassemblerTest, ReversedChunks) {
  auto chunks = cut(kText, {4, 9, 20, 21, 35});
  std::reverse(chunks.begin(), chunks.end());
  r.set_initial_sequence(77);
  for (const auto& c : chunks) put(77, c);
  EXPECT_EQ(rec.stream, kText);
  EXPECT_EQ(counters.out_of_order_segments, chunks.size() - 1);
}

TEST_F(ReassemblerTest, OneByteSegmentsReversedAndForward) {
  r.set_initial_sequence(0xFFFF'FFF8u);
  for (std::size_t i = kText.size(); i-- > 0;) put(0xFFFF'FFF8u, {i, kText.substr(i, 1)});
  EXPECT_EQ(rec.stream, kText);
  EXPECT_EQ(counters.buffered_bytes, 0u);

  // Forward one-byte delivery after it, continuing the same stream.
  const std::string more = "QUIT\r\n";
  for (std::size_t i = 0; i < more.size(); ++i) {
    put(0xFFFF'FFF8u, {kText.size() + i, more.substr(i, 1)});
  }
  EXPECT_EQ(rec.stream, kText + more);
  EXPECT_EQ(counters.out_of_order_segments, kText.size() - 1);
}

// --- zero copy and start of stream ---------------------------------------------------------

TEST_F(ReassemblerTest, InOrderDataIsAViewOfThePayload) {
  const std::string a = "HELO x\r\n";
  r.set_initial_sequence(5);
  r.insert(6, as_bytes(a), rec);
  EXPECT_EQ(rec.last_data, reinterpret_cast<const std::uint8_t*>(a.data()));
  EXPECT_EQ(rec.stream, a);
}

TEST_F(ReassemblerTest, MidstreamFirstSegmentStartsTheStream) {
  const std::string first = "hello";
  r.insert(5000, as_bytes(first), rec);
  EXPECT_TRUE(r.started());
  EXPECT_EQ(rec.stream, "hello");
  // Entirely before the start: an old retransmission, dropped.
  r.insert(4990, as_bytes(std::string("0123456789")), rec);
  EXPECT_EQ(rec.stream, "hello");
  EXPECT_EQ(counters.retransmitted_bytes, 10u);
  // Straddles the start and the delivered bytes: only the new part is delivered.
  r.insert(4998, as_bytes(std::string("zzhello there")), rec);
  EXPECT_EQ(rec.stream, "hello there");
  EXPECT_EQ(counters.retransmitted_bytes, 17u);
  EXPECT_TRUE(rec.conflicts.empty());
}

TEST_F(ReassemblerTest, EmptyPayloadDoesNotStartTheStream) {
  r.insert(100, {}, rec);
  EXPECT_FALSE(r.started());
  r.insert(200, as_bytes(std::string("x")), rec);
  EXPECT_EQ(rec.stream, "x");
  EXPECT_EQ(r.next_sequence(), 201u);
}

TEST_F(ReassemblerTest, InitialSequenceIgnoredOnceStarted) {
  r.insert(200, as_bytes(std::string("ab")), rec);
  r.set_initial_sequence(5);
  r.insert(202, as_bytes(std::string("cd")), rec);
  EXPECT_EQ(rec.stream, "abcd");
  EXPECT_EQ(counters.gaps, 0u);
}

// --- conflicts -----------------------------------------------------------------------------

struct ConflictCase {
  const char* name;
  std::uint32_t tail_bytes;
  std::vector<Chunk> segments;  // offsets after the SYN
  std::string stream;           // after the last segment, before flush
  std::vector<std::string> conflicts;
  std::uint64_t conflict_count;
};

void PrintTo(const ConflictCase& c, std::ostream* os) { *os << c.name; }

class Conflicts : public ::testing::TestWithParam<ConflictCase> {};

TEST_P(Conflicts, Reported) {
  const auto& c = GetParam();
  ReassemblyLimits limits;
  limits.delivered_tail_bytes = c.tail_bytes;
  ReassemblyCounters counters;
  StreamReassembler r(limits, counters);
  Recorder rec;
  r.set_initial_sequence(0xFFFF'FFFEu);
  for (const auto& s : c.segments) {
    r.insert(0xFFFF'FFFFu + static_cast<std::uint32_t>(s.offset), as_bytes(s.bytes), rec);
  }
  EXPECT_EQ(rec.stream, c.stream);
  EXPECT_EQ(rec.conflicts, c.conflicts);
  EXPECT_EQ(counters.overlap_conflicts, c.conflict_count);
  EXPECT_EQ(counters.buffered_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Conflicts,
    ::testing::Values(
        ConflictCase{"delivered_then_different", 4096, {{0, "ABCD"}, {4, "EFGH"}, {0, "AXCD"}},
                     "ABCDEFGH", {"AXCD@8"}, 1},
        ConflictCase{"delivered_then_same", 4096, {{0, "ABCD"}, {4, "EFGH"}, {2, "CDEF"}},
                     "ABCDEFGH", {}, 0},
        ConflictCase{"buffered_then_different", 4096, {{4, "EFGH"}, {4, "EXGH"}, {0, "ABCD"}},
                     "ABCDEFGH", {"EXGH@4"}, 1},
        ConflictCase{"buffered_partial_overlap", 4096,
                     {{4, "EFGH"}, {3, "DXFGHI"}, {0, "ABC"}},
                     "ABCDEFGHI", {"XFGH@4"}, 1},
        ConflictCase{"in_order_segment_over_buffered_one", 4096,
                     {{4, "EFGH"}, {0, "ABCDEXGHIJ"}},
                     "ABCDEFGHIJ", {"EXGH@4"}, 1},
        ConflictCase{"new_bytes_after_conflict_still_delivered", 4096,
                     {{0, "ABCD"}, {2, "XXEF"}}, "ABCDEF", {"XX@2"}, 1},
        ConflictCase{"no_tail_no_check", 0, {{0, "ABCD"}, {0, "AXCD"}}, "ABCD", {}, 0},
        ConflictCase{"difference_older_than_tail_unseen", 2,
                     {{0, "ABCDEFGH"}, {0, "XBCDEFGH"}}, "ABCDEFGH", {}, 0},
        ConflictCase{"difference_inside_short_tail", 2, {{0, "ABCDEFGH"}, {0, "ABCDEFXH"}},
                     "ABCDEFGH", {"XH@2"}, 1},
        ConflictCase{"tail_ring_wrapped_same", 4,
                     {{0, "ABC"}, {3, "DEF"}, {6, "GHI"}, {5, "FGHI"}}, "ABCDEFGHI", {}, 0},
        ConflictCase{"tail_ring_wrapped_different", 4,
                     {{0, "ABC"}, {3, "DEF"}, {6, "GHI"}, {5, "FGXI"}}, "ABCDEFGHI",
                     {"FGXI@4"}, 1}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// --- losses, flush and caps -------------------------------------------------------------------

TEST_F(ReassemblerTest, LostSegmentBecomesGapOnFlush) {
  const auto chunks = cut(kText, {4, 9, 20, 21, 35});
  r.set_initial_sequence(0xFFFF'FFF0u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (i != 2) put(0xFFFF'FFF0u, chunks[i]);
  }
  EXPECT_EQ(rec.stream, chunks[0].bytes + chunks[1].bytes);
  r.flush(rec);
  EXPECT_EQ(rec.stream, chunks[0].bytes + chunks[1].bytes + "[gap 11]" + chunks[3].bytes +
                            chunks[4].bytes + chunks[5].bytes);
  EXPECT_EQ(counters.gaps, 1u);
  EXPECT_EQ(counters.gap_bytes, 11u);
  EXPECT_EQ(counters.buffer_cap_drops, 0u);
  EXPECT_EQ(counters.buffered_bytes, 0u);
  // The stream goes on after the flush.
  put(0xFFFF'FFF0u, {kText.size(), "QUIT"});
  EXPECT_EQ(rec.stream.substr(rec.stream.size() - 4), "QUIT");
}

TEST_F(ReassemblerTest, TwoHolesTwoGaps) {
  r.set_initial_sequence(0);
  put(0, {0, "aa"});
  put(0, {5, "bb"});
  put(0, {10, "cc"});
  r.flush(rec);
  EXPECT_EQ(rec.stream, "aa[gap 3]bb[gap 3]cc");
  EXPECT_EQ(counters.gaps, 2u);
}

TEST_F(ReassemblerTest, FlushWithNothingBufferedIsSilent) {
  r.flush(rec);
  put(0, {0, "x"});
  r.flush(rec);
  EXPECT_EQ(rec.stream, "x");
  EXPECT_FALSE(r.skip_to_buffered(rec, false));
  EXPECT_EQ(counters.gaps, 0u);
}

TEST_F(ReassemblerTest, RetransmissionOfGapIsNotData) {
  r.set_initial_sequence(0);
  put(0, {0, "aa"});
  put(0, {5, "bb"});
  r.flush(rec);
  put(0, {2, "XYZ"});  // arrives after we gave up: too late
  EXPECT_EQ(rec.stream, "aa[gap 3]bb");
  EXPECT_TRUE(rec.conflicts.empty());  // the tail was cleared at the gap: nothing to compare
}

struct CapCase {
  const char* name;
  std::uint64_t cap;
  std::vector<Chunk> segments;
  std::string stream;  // before flush
  std::uint64_t cap_drops;
  std::uint64_t buffered_after;
};

void PrintTo(const CapCase& c, std::ostream* os) { *os << c.name; }

class Cap : public ::testing::TestWithParam<CapCase> {};

TEST_P(Cap, SkipsAheadAndContinues) {
  const auto& c = GetParam();
  ReassemblyLimits limits;
  limits.max_buffered_bytes = c.cap;
  ReassemblyCounters counters;
  StreamReassembler r(limits, counters);
  Recorder rec;
  r.set_initial_sequence(0xFFFF'FFFAu);
  for (const auto& s : c.segments) {
    r.insert(0xFFFF'FFFBu + static_cast<std::uint32_t>(s.offset), as_bytes(s.bytes), rec);
    EXPECT_LE(r.buffered_bytes(), std::max<std::uint64_t>(c.cap, 0));
  }
  EXPECT_EQ(rec.stream, c.stream);
  EXPECT_EQ(counters.buffer_cap_drops, c.cap_drops);
  EXPECT_EQ(r.buffered_bytes(), c.buffered_after);
  EXPECT_EQ(counters.buffered_bytes, c.buffered_after);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Cap,
    ::testing::Values(
        CapCase{"skip_to_lowest_buffered", 10,
                {{0, "AAAAA"}, {10, "BBBBB"}, {20, "CCCCCCCCCC"}, {15, "ccccc"}},
                "AAAAA[gap 5]BBBBBcccccCCCCCCCCCC", 5, 0},
        CapCase{"new_segment_lower_than_buffered", 8,
                {{10, "KKKKK"}, {5, "FFFF"}, {9, "J"}}, "[gap 5]FFFFJKKKKK", 5, 0},
        CapCase{"zero_cap_never_waits", 0,
                {{0, "ab"}, {4, "ef"}, {2, "cd"}, {8, "ij"}}, "ab[gap 2]ef[gap 2]ij", 4, 0},
        CapCase{"under_cap_waits", 100, {{0, "ab"}, {4, "ef"}}, "ab", 0, 2},
        CapCase{"several_skips_in_one_insert", 4,
                {{2, "b"}, {4, "c"}, {6, "d"}, {8, "e"}, {10, "fffff"}},
                "[gap 2]b[gap 1]c[gap 1]d[gap 1]e[gap 1]fffff", 6, 0}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// --- wrap-around and jumps ---------------------------------------------------------------

TEST_F(ReassemblerTest, WrapAroundInsideASegmentAndBetweenSegments) {
  const std::uint32_t isn = 0xFFFF'FFF0u;
  r.set_initial_sequence(isn);
  put(isn, {0, "0123456789ABCDE"});  // ends exactly at 2^32
  put(isn, {20, "KLMN"});           // after the wrap, out of order
  put(isn, {15, "FGHIJ"});          // crosses nothing, fills the hole
  EXPECT_EQ(rec.stream, "0123456789ABCDEFGHIJKLMN");
  EXPECT_EQ(r.next_sequence(), isn + 1 + 24);
  EXPECT_EQ(r.delivered_offset(), 24u);
}

TEST_F(ReassemblerTest, JumpOfTwoToTheThirtyOneIsAGapNotAnAllocation) {
  r.set_initial_sequence(0xFFFF'FF00u);
  put(0xFFFF'FF00u, {0, "abc"});
  const std::uint32_t far = r.next_sequence() + 0x8000'0000u;
  r.insert(far, as_bytes(std::string("xyz")), rec);
  EXPECT_EQ(r.buffered_bytes(), 3u);
  EXPECT_EQ(rec.stream, "abc");
  // Past exactly 2^31 the segment is behind us: an ancient retransmission.
  r.insert(far + 1, as_bytes(std::string("old")), rec);
  EXPECT_EQ(r.buffered_bytes(), 3u);
  EXPECT_EQ(counters.retransmitted_bytes, 3u);
  r.flush(rec);
  EXPECT_EQ(rec.stream, "abc[gap 2147483648]xyz");
  // And the stream continues from there, in order.
  r.insert(far + 3, as_bytes(std::string("!")), rec);
  EXPECT_EQ(rec.stream, "abc[gap 2147483648]xyz!");
}

TEST_F(ReassemblerTest, FarAheadSegmentWaitsThenBecomesGap) {
  r.set_initial_sequence(10);
  put(10, {0, "abc"});
  const std::uint64_t far = 3ull << 29;  // 1.5 GiB
  put(10, {far, "far"});
  put(10, {3, "def"});
  EXPECT_EQ(rec.stream, "abcdef");
  EXPECT_EQ(counters.buffered_bytes, 3u);
  r.flush(rec);
  EXPECT_EQ(rec.stream, "abcdef[gap " + std::to_string(far - 6) + "]far");
}

TEST_F(ReassemblerTest, FarAheadSegmentOverCapIsSkippedTo) {
  limits.max_buffered_bytes = 2;
  r.set_initial_sequence(10);
  put(10, {0, "abc"});
  put(10, {1ull << 30, "far"});
  EXPECT_EQ(rec.stream, "abc[gap " + std::to_string((1ull << 30) - 3) + "]far");
  EXPECT_EQ(counters.buffer_cap_drops, (1ull << 30) - 3);
}

// --- memory accounting -----------------------------------------------------------------------

TEST(ReassemblerAccounting, SharedGaugeFollowsResetAndDestruction) {
  ReassemblyLimits limits;
  ReassemblyCounters counters;
  Recorder rec;
  StreamReassembler a(limits, counters);
  {
    StreamReassembler b(limits, counters);
    a.insert(100, as_bytes(std::string("x")), rec);
    a.insert(105, as_bytes(std::string("yy")), rec);
    b.insert(100, as_bytes(std::string("x")), rec);
    b.insert(110, as_bytes(std::string("zzz")), rec);
    b.insert(110, as_bytes(std::string("zQz")), rec);  // pending conflict is held too
    EXPECT_EQ(counters.buffered_bytes, 2u + 3u + 3u);
  }
  EXPECT_EQ(counters.buffered_bytes, 2u);
  a.reset();
  EXPECT_EQ(counters.buffered_bytes, 0u);
  EXPECT_FALSE(a.started());
  a.insert(7, as_bytes(std::string("new")), rec);
  EXPECT_EQ(a.next_sequence(), 10u);
}

// --- tail pool ---------------------------------------------------------------------------------

TEST(TailPool, TakeGivesRoomAndGiveKeepsForReuse) {
  TailPool pool;
  TailBuffer a = pool.take(100);
  ASSERT_NE(a.bytes, nullptr);
  EXPECT_GE(a.capacity, 100u);
  const std::uint8_t* buffer = a.bytes.get();
  pool.give(a);
  EXPECT_EQ(a.bytes, nullptr);
  EXPECT_EQ(a.capacity, 0u);
  EXPECT_EQ(pool.spare(), 1u);
  const TailBuffer again = pool.take(80);  // room enough: the same buffer
  EXPECT_EQ(again.bytes.get(), buffer);
  EXPECT_GE(again.capacity, 100u);
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(TailPool, StepsKeptApartAndTooSmallBuffersNotHandedOut) {
  TailPool pool;
  TailBuffer first = pool.take(kTailFirstBytes);
  TailBuffer full = pool.take(4096);
  pool.give(first);
  pool.give(full);
  EXPECT_EQ(pool.spare(), 2u);
  EXPECT_GE(pool.take(4096).capacity, 4096u);
  EXPECT_GE(pool.take(kTailFirstBytes).capacity, kTailFirstBytes);
  EXPECT_EQ(pool.spare(), 0u);
  TailBuffer small = pool.take(kTailFirstBytes + 1);  // the full step's list
  EXPECT_GE(small.capacity, kTailFirstBytes + 1);
  pool.give(small);
  EXPECT_GE(pool.take(8192).capacity, 8192u);  // the kept one is too small: dropped, not given
  EXPECT_EQ(pool.spare(), 0u);
  TailBuffer none;
  pool.give(none);  // nothing to keep
  EXPECT_EQ(pool.spare(), 0u);
}

TEST(TailPool, KeepsAtMostMaxSparePerStep) {
  TailPool pool;
  std::vector<TailBuffer> held;
  for (std::size_t i = 0; i < TailPool::kMaxSpare + 10; ++i) held.push_back(pool.take(64));
  for (auto& b : held) pool.give(b);
  EXPECT_EQ(pool.spare(), TailPool::kMaxSpare);
}

// Reassemblers sharing a pool see exactly what heap-backed ones see, through growth of the
// tail, its wrap-around and a reset (which hands the tail back for the next stream).
TEST(TailPool, PooledReassemblersDetectTheSameConflicts) {
  ReassemblyLimits limits;
  limits.delivered_tail_bytes = 1000;
  std::mt19937 rng(99);
  std::string text(5000, '\0');
  for (auto& ch : text) ch = static_cast<char>('a' + rng() % 26);
  TailPool pool;
  for (int stream = 0; stream < 20; ++stream) {
    ReassemblyCounters heap_counters;
    ReassemblyCounters pool_counters;
    StreamReassembler heap(limits, heap_counters);
    StreamReassembler pooled(limits, pool_counters, &pool);
    Recorder heap_rec;
    Recorder pool_rec;
    heap.set_initial_sequence(0);
    pooled.set_initial_sequence(0);
    std::size_t next = 0;
    while (next < text.size()) {
      const std::size_t len = std::min<std::size_t>(1 + rng() % 1200, text.size() - next);
      const std::string piece = text.substr(next, len);
      heap.insert(static_cast<std::uint32_t>(1 + next), as_bytes(piece), heap_rec);
      pooled.insert(static_cast<std::uint32_t>(1 + next), as_bytes(piece), pool_rec);
      next += len;
      // A retransmission of recent bytes, now and then with one byte changed.
      const std::size_t back = std::min<std::size_t>(next, 1 + rng() % 900);
      std::string again = text.substr(next - back, back);
      if (rng() % 2 == 0) again[rng() % again.size()] ^= 1;
      heap.insert(static_cast<std::uint32_t>(1 + next - back), as_bytes(again), heap_rec);
      pooled.insert(static_cast<std::uint32_t>(1 + next - back), as_bytes(again), pool_rec);
    }
    ASSERT_EQ(pool_rec.stream, heap_rec.stream);
    ASSERT_EQ(pool_rec.conflicts, heap_rec.conflicts);
    ASSERT_FALSE(heap_rec.conflicts.empty());
    EXPECT_EQ(pool_counters.overlap_conflicts, heap_counters.overlap_conflicts);
    pooled.reset();
    // The first step's buffer (given back when the tail grew) and the full one: the next
    // stream takes both and gives both back, nothing is allocated after the first stream.
    EXPECT_EQ(pool.spare(), 2u);
  }
}

// --- random property test --------------------------------------------------------------------

// Random segments with losses, duplicates and overlaps under random caps: after flush the
// stream has exactly the right length, every data byte is the original byte at that offset,
// and nothing stays buffered.
TEST(ReassemblerProperty, RandomSegmentsNeverCorruptOrStall) {
  std::mt19937 rng(12345);
  std::string original(3000, '\0');
  for (auto& ch : original) ch = static_cast<char>('a' + rng() % 26);
  for (int round = 0; round < 300; ++round) {
    ReassemblyLimits limits;
    limits.max_buffered_bytes = rng() % 2 == 0 ? 1u << 20 : rng() % 400;
    limits.delivered_tail_bytes = static_cast<std::uint32_t>(rng() % 64);
    ReassemblyCounters counters;
    StreamReassembler r(limits, counters);
    const auto isn = static_cast<std::uint32_t>(0xFFFF'F000u + rng() % 0x2000);
    r.set_initial_sequence(isn);

    struct Piece : StreamSink {
      std::string* original;
      std::uint64_t pos = 0;
      bool bad = false;
      void on_data(Bytes d) override {
        for (auto b : d) bad |= pos >= original->size() || (*original)[pos++] != static_cast<char>(b);
      }
      void on_gap(std::uint64_t n) override { pos += n; }
      void on_conflict(Bytes, std::uint64_t) override { bad = true; }
    } sink;
    sink.original = &original;

    std::uint64_t max_end = 0;
    for (int s = 0; s < 60; ++s) {
      const std::size_t from = rng() % original.size();
      const std::size_t len = 1 + rng() % std::min<std::size_t>(200, original.size() - from);
      if (rng() % 5 == 0) continue;  // lost
      max_end = std::max<std::uint64_t>(max_end, from + len);
      r.insert(isn + 1 + static_cast<std::uint32_t>(from),
               Bytes(reinterpret_cast<const std::uint8_t*>(original.data()) + from, len), sink);
      ASSERT_LE(r.buffered_bytes(), std::max<std::uint64_t>(limits.max_buffered_bytes, 200));
    }
    r.flush(sink);
    ASSERT_FALSE(sink.bad) << "round " << round;
    ASSERT_EQ(sink.pos, max_end) << "round " << round;
    ASSERT_EQ(r.delivered_offset(), max_end);
    ASSERT_EQ(counters.buffered_bytes, 0u);
    ASSERT_EQ(counters.overlap_conflicts, 0u);
  }
}

}  // namespace
}  // namespace rcptwatch::reassembly
