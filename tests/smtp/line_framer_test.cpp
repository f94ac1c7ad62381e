// Tests of the SMTP line framer: CRLF and bare LF, lines split across chunks at every byte,
// zero-copy views for whole lines, the length cap and gap handling.
#include "smtp/line_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rcptwatch::smtp {
namespace {

struct Framed {
  std::string text;
  bool truncated;
  bool operator==(const Framed&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Framed& f) {
  return os << '"' << f.text << '"' << (f.truncated ? " (truncated)" : "");
}

// Feeds `chunks` in order and collects every completed line.
std::vector<Framed> frame(LineFramer& framer, const std::vector<std::string>& chunks) {
  std::vector<Framed> out;
  for (const auto& chunk : chunks) {
    std::string_view in = chunk;
    while (!in.empty()) {
      const auto step = framer.next(in);
      EXPECT_GT(step.consumed, 0u);
      in.remove_prefix(step.consumed);
      if (step.line) out.push_back({std::string(step.line->text), step.line->truncated});
    }
  }
  return out;
}

TEST(LineFramer, CrLfAndBareLf) {
  LineFramer framer(100);
  const auto lines = frame(framer, {"a\r\nb\nc\r\n\r\n\n"});
  const std::vector<Framed> expected{{"a", false}, {"b", false}, {"c", false}, {"", false},
                                     {"", false}};
  EXPECT_EQ(lines, expected);
  EXPECT_TRUE(framer.at_line_start());
}

TEST(LineFramer, WholeLineIsAViewIntoTheInput) {
  LineFramer framer(100);
  const std::string input = "RCPT TO:<a@b.example>\r\nrest";
  const auto step = framer.next(input);
  ASSERT_TRUE(step.line);
  EXPECT_EQ(step.line->text.data(), input.data());
  EXPECT_EQ(step.consumed, 23u);
}

TEST(LineFramer, PartialLineIsHeldAcrossCalls) {
  LineFramer framer(100);
  auto step = framer.next("RCPT TO:<a@");
  EXPECT_FALSE(step.line);
  EXPECT_EQ(step.consumed, 11u);
  EXPECT_FALSE(framer.at_line_start());
  step = framer.next("b.example>\r");
  EXPECT_FALSE(step.line);
  step = framer.next("\nNEXT");
  ASSERT_TRUE(step.line);
  EXPECT_EQ(step.line->text, "RCPT TO:<a@b.example>");
  EXPECT_EQ(step.consumed, 1u);
  EXPECT_TRUE(framer.at_line_start());
}

TEST(LineFramer, SameLinesForEverySplit) {
  const std::string input = "EHLO x\r\nMAIL FROM:<a@b>\r\n" + std::string(30, 'z') +
                            "\r\nRCPT TO:<c@d>\n\r\nabcdefghij\r\n";
  LineFramer whole_framer(20);
  const auto expected = frame(whole_framer, {input});
  ASSERT_EQ(expected.size(), 6u);
  EXPECT_TRUE(expected[2].truncated);
  for (std::size_t k = 1; k < input.size(); ++k) {
    LineFramer framer(20);
    EXPECT_EQ(frame(framer, {input.substr(0, k), input.substr(k)}), expected) << "split " << k;
  }
  std::vector<std::string> bytes;
  for (const char c : input) bytes.emplace_back(1, c);
  LineFramer framer(20);
  EXPECT_EQ(frame(framer, bytes), expected);
}

struct CapCase {
  std::string line;  // including its terminator
  std::string text;
  bool truncated;
};

class LineFramerCap : public ::testing::TestWithParam<CapCase> {};

TEST_P(LineFramerCap, CutsAtTheCapWhateverTheSplit) {
  const auto& c = GetParam();
  const std::vector<Framed> expected{{c.text, c.truncated}, {"next", false}};
  const std::string input = c.line + "next\r\n";
  for (std::size_t k = 0; k < input.size(); ++k) {
    LineFramer framer(4);
    std::vector<std::string> chunks{input.substr(0, k), input.substr(k)};
    if (k == 0) chunks.erase(chunks.begin());
    EXPECT_EQ(frame(framer, chunks), expected) << c.line << " split " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Cap, LineFramerCap,
                         ::testing::Values(CapCase{"abcd\r\n", "abcd", false},
                                           CapCase{"abcd\n", "abcd", false},
                                           CapCase{"abcde\r\n", "abcd", true},
                                           CapCase{"abcde\n", "abcd", true},
                                           CapCase{"abcdefghijklmnop\r\n", "abcd", true},
                                           CapCase{"abc\r\r\n", "abc\r", false},
                                           CapCase{"abcd\r\r\n", "abcd", true}));

TEST(LineFramer, DiscardPartialDropsTheLineInProgress) {
  LineFramer framer(100);
  EXPECT_FALSE(framer.next("RCPT TO:<lost").line);
  framer.discard_partial();
  EXPECT_TRUE(framer.at_line_start());
  const auto step = framer.next("QUIT\r\n");
  ASSERT_TRUE(step.line);
  EXPECT_EQ(step.line->text, "QUIT");
}

}  // namespace
}  // namespace rcptwatch::smtp
