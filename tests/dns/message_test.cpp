// DNS parser: header, questions, records with compression; loops, truncation and malformed
// input end in a ParseError, never a crash or a runaway.
#include "dns/message.h"

#include <gtest/gtest.h>

#include "dns_builder.h"

namespace rcptwatch::dns {
namespace {

using test::header;
using test::put16;
using test::put32;
using test::put_name;

// army.ml MX -> 10 mx.army.ml (compressed), additional mx.army.ml A 203.0.113.7 (pointer to
// the MX target), TTL 300.
std::vector<std::uint8_t> mx_response() {
  auto b = header(0x4d58, 0x8180, 1, 1, 0, 1);
  put_name(b, "Army.ML");  // upper case on the wire: names come out lower-cased
  put16(b, rr_type::kMx);
  put16(b, 1);
  b.insert(b.end(), {0xC0, 0x0C});
  put16(b, rr_type::kMx);
  put16(b, 1);
  put32(b, 300);
  put16(b, 7);  // preference 2 + "\x02mx" 3 + pointer 2
  put16(b, 10);
  const std::size_t target = b.size();
  b.insert(b.end(), {2, 'm', 'x', 0xC0, 0x0C});
  b.push_back(static_cast<std::uint8_t>(0xC0));
  b.push_back(static_cast<std::uint8_t>(target));
  put16(b, rr_type::kA);
  put16(b, 1);
  put32(b, 300);
  put16(b, 4);
  b.insert(b.end(), {203, 0, 113, 7});
  return b;
}

TEST(DnsMessage, ParsesCompressedMxResponse) {
  Message m;
  const auto wire = mx_response();
  ASSERT_TRUE(parse_message(wire, m));
  EXPECT_EQ(m.id, 0x4d58);
  EXPECT_TRUE(m.response);
  EXPECT_EQ(m.rcode, 0);
  ASSERT_EQ(m.questions().size(), 1u);
  EXPECT_EQ(m.questions()[0].name.view(), "army.ml");
  EXPECT_EQ(m.questions()[0].type, rr_type::kMx);
  ASSERT_EQ(m.records().size(), 2u);
  const Record& mx = m.records()[0];
  EXPECT_EQ(mx.name.view(), "army.ml");
  EXPECT_EQ(mx.section, Section::Answer);
  EXPECT_EQ(mx.ttl, 300u);
  EXPECT_EQ(mx.preference, 10);
  EXPECT_EQ(mx.target.view(), "mx.army.ml");
  const Record& a = m.records()[1];
  EXPECT_EQ(a.section, Section::Additional);
  EXPECT_EQ(a.name.view(), "mx.army.ml");
  EXPECT_EQ(a.address.to_string(), "203.0.113.7");
}

TEST(DnsMessage, ParsesQueryAndAaaa) {
  auto b = header(7, 0x0100, 1, 0, 0, 0);
  put_name(b, "nat0.int");
  put16(b, rr_type::kAaaa);
  put16(b, 1);
  Message m;
  ASSERT_TRUE(parse_message(b, m));
  EXPECT_FALSE(m.response);
  EXPECT_EQ(m.records().size(), 0u);
  EXPECT_EQ(m.questions()[0].type, rr_type::kAaaa);

  auto r = header(7, 0x8183, 1, 1, 0, 0);  // NXDOMAIN rcode, still parsed
  put_name(r, "nat0.int");
  put16(r, rr_type::kAaaa);
  put16(r, 1);
  r.insert(r.end(), {0xC0, 0x0C});
  put16(r, rr_type::kAaaa);
  put16(r, 1);
  put32(r, 60);
  put16(r, 16);
  for (int i = 0; i < 16; ++i) r.push_back(i == 0 ? 0x20 : i == 1 ? 0x01 : i == 15 ? 9 : 0);
  ASSERT_TRUE(parse_message(r, m));
  EXPECT_EQ(m.rcode, 3);
  EXPECT_EQ(m.records()[0].address.to_string(), "2001::9");
}

TEST(DnsMessage, EveryTruncationIsAnError) {
  const auto wire = mx_response();
  Message m;
  for (std::size_t len = 0; len < wire.size(); ++len) {
    const auto r = parse_message(Bytes(wire.data(), len), m);
    EXPECT_FALSE(r.has_value()) << "length " << len;
  }
}

TEST(DnsMessage, PointerLoopsAndForwardPointersAreRefused) {
  struct Case {
    std::vector<std::uint8_t> name;  // the question name bytes at offset 12
    ParseError error;
  };
  const Case cases[] = {
      {{0xC0, 0x0C}, ParseError::BadPointer},                 // points at itself
      {{0xC0, 0x0E}, ParseError::BadPointer},                 // forward
      {{1, 'a', 0xC0, 0x0C}, ParseError::BadPointer},         // back into its own name: loop
      {{0xC0, 0xFF}, ParseError::BadPointer},                 // past the end
      {{0x40, 'a', 0}, ParseError::BadLabel},                 // extended label type
      {{0x80, 'a', 0}, ParseError::BadLabel},                 // reserved label type
      {{3, 'a', '.', 'b', 0}, ParseError::BadLabel},          // dot inside a label
      {{3, 'a', ' ', 'b', 0}, ParseError::BadLabel},          // space inside a label
      {{9, 'a', 'b', 0}, ParseError::Truncated},              // label past the end
  };
  for (const Case& c : cases) {
    auto b = header(1, 0x0100, 1, 0, 0, 0);
    b.insert(b.end(), c.name.begin(), c.name.end());
    put16(b, 1);
    put16(b, 1);
    Message m;
    const auto r = parse_message(b, m);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), c.error) << to_string(r.error());
  }
}

TEST(DnsMessage, PointerChainsAreBounded) {
  // A legal backwards chain longer than the hop cap: offsets 12, 14, ... each point to the
  // previous one, the first is a real name "a".
  auto b = header(1, 0x8180, 1, 1, 0, 0);
  put_name(b, "a");  // offset 12..14
  put16(b, 1);
  put16(b, 1);
  // A TXT record whose RDATA holds the chain (each pointer to the one before it), then an A
  // record whose name points at the chain's end.
  b[7] = 2;  // ancount = 2
  b.insert(b.end(), {0xC0, 0x0C});
  put16(b, rr_type::kTxt);
  put16(b, 1);
  put32(b, 1);
  const int links = ParseLimits::kMaxPointerHops + 2;
  put16(b, static_cast<unsigned>(links * 2));
  std::size_t prev = 12;
  for (int i = 0; i < links; ++i) {
    const std::size_t here = b.size();
    b.push_back(static_cast<std::uint8_t>(0xC0 | (prev >> 8)));
    b.push_back(static_cast<std::uint8_t>(prev & 0xFF));
    prev = here;
  }
  b.push_back(static_cast<std::uint8_t>(0xC0 | (prev >> 8)));
  b.push_back(static_cast<std::uint8_t>(prev & 0xFF));
  put16(b, rr_type::kA);
  put16(b, 1);
  put32(b, 1);
  put16(b, 4);
  b.insert(b.end(), {1, 2, 3, 4});
  Message m;
  const auto r = parse_message(b, m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), ParseError::TooManyPointers);
}

TEST(DnsMessage, BadRdataLengths) {
  for (const unsigned rdlength : {0u, 3u, 5u}) {
    auto b = header(1, 0x8180, 0, 1, 0, 0);
    put_name(b, "x.example");
    put16(b, rr_type::kA);
    put16(b, 1);
    put32(b, 1);
    put16(b, rdlength);
    for (unsigned i = 0; i < rdlength; ++i) b.push_back(1);
    Message m;
    const auto r = parse_message(b, m);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), ParseError::BadRdata);
  }
  // MX whose exchange name runs past its RDATA.
  auto b = header(1, 0x8180, 0, 1, 0, 0);
  put_name(b, "x.example");
  put16(b, rr_type::kMx);
  put16(b, 1);
  put32(b, 1);
  put16(b, 4);
  b.insert(b.end(), {0, 10, 5, 'a', 'b', 'c', 'd', 'e', 0});
  Message m;
  EXPECT_FALSE(parse_message(b, m).has_value());
}

TEST(DnsMessage, NameLongerThan253IsRefused) {
  auto b = header(1, 0x0100, 1, 0, 0, 0);
  for (int i = 0; i < 5; ++i) {
    b.push_back(63);
    b.insert(b.end(), 63, 'a');
  }
  b.push_back(0);
  put16(b, 1);
  put16(b, 1);
  Message m;
  const auto r = parse_message(b, m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), ParseError::NameTooLong);
}

TEST(DnsMessage, RecordsBeyondCapacityAreSkippedAndFlagged) {
  const unsigned n = ParseLimits::kMaxRecords + 5;
  auto b = header(1, 0x8180, 0, n, 0, 0);
  for (unsigned i = 0; i < n; ++i) {
    put_name(b, "h.example");
    put16(b, rr_type::kA);
    put16(b, 1);
    put32(b, i);
    put16(b, 4);
    b.insert(b.end(), {10, 0, 0, static_cast<std::uint8_t>(i)});
  }
  Message m;
  ASSERT_TRUE(parse_message(b, m));
  EXPECT_TRUE(m.capped);
  EXPECT_EQ(m.records().size(), ParseLimits::kMaxRecords);
}

TEST(DnsMessage, Names) {
  std::array<char, 12> buf{};
  EXPECT_EQ(type_name(rr_type::kMx, buf), "MX");
  EXPECT_EQ(type_name(65, buf), "TYPE65");
  EXPECT_EQ(rcode_name(3, buf), "NXDOMAIN");
  EXPECT_EQ(rcode_name(9, buf), "RCODE9");
}

}  // namespace
}  // namespace rcptwatch::dns
