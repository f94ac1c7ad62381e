// MX correlation: addresses of lookalike MX hosts are remembered for their TTL (packet time),
// from the additional section, from a later A answer, through CNAMEs; the caps evict.
#include "dns/mx_correlator.h"

#include <gtest/gtest.h>

#include "dns_builder.h"

namespace rcptwatch::dns {
namespace {

using test::header;
using test::put16;
using test::put32;
using test::put_name;

void put_record(std::vector<std::uint8_t>& b, const std::string& name, std::uint16_t type,
                std::uint32_t ttl, const std::vector<std::uint8_t>& rdata) {
  put_name(b, name);
  put16(b, type);
  put16(b, 1);
  put32(b, ttl);
  put16(b, static_cast<unsigned>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

std::vector<std::uint8_t> name_bytes(const std::string& n) {
  std::vector<std::uint8_t> b;
  put_name(b, n);
  return b;
}

std::vector<std::uint8_t> mx_rdata(const std::string& host) {
  std::vector<std::uint8_t> b{0, 10};
  put_name(b, host);
  return b;
}

Message parse(const std::vector<std::uint8_t>& wire) {
  Message m;
  EXPECT_TRUE(parse_message(wire, m));
  return m;
}

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  const std::uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::v4(bytes);
}

const Timestamp kT0 = Timestamp::from_seconds(1000);

TEST(MxCorrelator, AdditionalSectionAddressIsRememberedForItsTtl) {
  auto b = header(1, 0x8180, 1, 1, 0, 1);
  put_name(b, "army.ml");
  put16(b, rr_type::kMx);
  put16(b, 1);
  put_record(b, "army.ml", rr_type::kMx, 300, mx_rdata("mx.army.ml"));
  put_record(b, "mx.army.ml", rr_type::kA, 120, {203, 0, 113, 7});
  MxCorrelator c;
  c.learn_mx_response(parse(b), "army.ml", kT0);
  const auto hit = c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 119'000'000});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->domain, "army.ml");
  EXPECT_EQ(hit->mx_host, "mx.army.ml");
  EXPECT_FALSE(c.lookup(v4(203, 0, 113, 8), kT0).has_value());
  // Expired after the A record's TTL, and forgotten.
  EXPECT_FALSE(c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 120'000'000}).has_value());
  EXPECT_EQ(c.addresses(), 0u);
  EXPECT_EQ(c.counters().expired, 1u);
}

TEST(MxCorrelator, AddressTtlIsBoundedByTheMxTtl) {
  auto b = header(1, 0x8180, 1, 1, 0, 1);
  put_name(b, "army.ml");
  put16(b, rr_type::kMx);
  put16(b, 1);
  put_record(b, "army.ml", rr_type::kMx, 60, mx_rdata("mx.army.ml"));
  put_record(b, "mx.army.ml", rr_type::kA, 86400, {203, 0, 113, 7});
  MxCorrelator c;
  c.learn_mx_response(parse(b), "army.ml", kT0);
  EXPECT_TRUE(c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 59'000'000}).has_value());
  EXPECT_FALSE(c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 61'000'000}).has_value());
}

TEST(MxCorrelator, LaterAddressAnswerAndCnameAreFollowed) {
  auto mx = header(1, 0x8180, 1, 1, 0, 0);
  put_name(mx, "army.ml");
  put16(mx, rr_type::kMx);
  put16(mx, 1);
  put_record(mx, "army.ml", rr_type::kMx, 300, mx_rdata("mx.army.ml"));
  MxCorrelator c;
  c.learn_mx_response(parse(mx), "army.ml", kT0);
  EXPECT_EQ(c.hosts(), 1u);
  EXPECT_EQ(c.addresses(), 0u);

  auto a = header(2, 0x8180, 1, 2, 0, 0);
  put_name(a, "mx.army.ml");
  put16(a, rr_type::kAaaa);
  put16(a, 1);
  put_record(a, "mx.army.ml", rr_type::kCname, 300, name_bytes("edge.hoster.example"));
  put_record(a, "edge.hoster.example", rr_type::kAaaa, 300,
             {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
  c.learn_address_response(parse(a), Timestamp{kT0.usec + 10'000'000});
  std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  const auto hit = c.lookup(IpAddress::v6(v6), Timestamp{kT0.usec + 20'000'000});
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->domain, "army.ml");
  EXPECT_EQ(hit->mx_host, "mx.army.ml");

  // An A answer for a host nobody asked about as an MX teaches nothing.
  auto other = header(3, 0x8180, 1, 1, 0, 0);
  put_name(other, "www.example.com");
  put16(other, rr_type::kA);
  put16(other, 1);
  put_record(other, "www.example.com", rr_type::kA, 300, {192, 0, 2, 99});
  c.learn_address_response(parse(other), kT0);
  EXPECT_FALSE(c.lookup(v4(192, 0, 2, 99), kT0).has_value());
}

TEST(MxCorrelator, ErrorResponsesAndQueriesTeachNothing) {
  auto b = header(1, 0x8183, 1, 1, 0, 1);  // NXDOMAIN
  put_name(b, "army.ml");
  put16(b, rr_type::kMx);
  put16(b, 1);
  put_record(b, "army.ml", rr_type::kMx, 300, mx_rdata("mx.army.ml"));
  put_record(b, "mx.army.ml", rr_type::kA, 300, {203, 0, 113, 7});
  MxCorrelator c;
  c.learn_mx_response(parse(b), "army.ml", kT0);
  EXPECT_EQ(c.addresses(), 0u);
}

TEST(MxCorrelator, CapEvictsSoonestToExpireAndCounts) {
  MxCorrelator c(CorrelatorLimits{4, 2, 3600});
  for (std::uint8_t i = 0; i < 3; ++i) {
    auto b = header(1, 0x8180, 1, 1, 0, 1);
    put_name(b, "army.ml");
    put16(b, rr_type::kMx);
    put16(b, 1);
    put_record(b, "army.ml", rr_type::kMx, 1000, mx_rdata("mx.army.ml"));
    put_record(b, "mx.army.ml", rr_type::kA, 100u + i * 100u, {203, 0, 113, i});
    c.learn_mx_response(parse(b), "army.ml", kT0);
  }
  EXPECT_EQ(c.addresses(), 2u);
  EXPECT_EQ(c.counters().evicted_cap, 1u);
  EXPECT_FALSE(c.lookup(v4(203, 0, 113, 0), kT0).has_value());  // TTL 100: evicted first
  EXPECT_TRUE(c.lookup(v4(203, 0, 113, 2), kT0).has_value());
}

TEST(MxCorrelator, HugeTtlIsClamped) {
  auto b = header(1, 0x8180, 1, 1, 0, 1);
  put_name(b, "army.ml");
  put16(b, rr_type::kMx);
  put16(b, 1);
  put_record(b, "army.ml", rr_type::kMx, 0xFFFFFFFF, mx_rdata("mx.army.ml"));
  put_record(b, "mx.army.ml", rr_type::kA, 0xFFFFFFFF, {203, 0, 113, 7});
  MxCorrelator c(CorrelatorLimits{16, 16, 3600});
  c.learn_mx_response(parse(b), "army.ml", kT0);
  EXPECT_TRUE(c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 3599'000'000LL}).has_value());
  EXPECT_FALSE(c.lookup(v4(203, 0, 113, 7), Timestamp{kT0.usec + 3601'000'000LL}).has_value());
}

}  // namespace
}  // namespace rcptwatch::dns
