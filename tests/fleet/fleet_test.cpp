// Tests of the fleet stage: CIDR parsing and matching, direction classification, Community ID
// against the spec's published baseline, and the evidence store's bounds.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "fleet/community_id.h"
#include "fleet/direction.h"
#include "fleet/evidence.h"

namespace rcptwatch {
namespace {

IpAddress ip(const char* text) {
  std::uint8_t raw[16] = {};
  if (inet_pton(AF_INET, text, raw) == 1) return IpAddress::v4(raw);
  EXPECT_EQ(inet_pton(AF_INET6, text, raw), 1) << text;
  return IpAddress::v6(raw);
}

TEST(Cidr, ParsesAndNormalises) {
  struct Case {
    const char* text;
    const char* canonical;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},         {"10.1.2.3/8", "10.0.0.0/8"},
      {"192.168.1.7", "192.168.1.7/32"},    {" 172.16.0.0/12 ", "172.16.0.0/12"},
      {"0.0.0.0/0", "0.0.0.0/0"},           {"2001:db8::/32", "2001:db8::/32"},
      {"2001:db8:ffff::1/33", "2001:db8:8000::/33"}, {"::1", "::1/128"},
      {"10.255.255.255/31", "10.255.255.254/31"},
  };
  for (const auto& c : cases) {
    auto r = parse_cidr(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.error();
    EXPECT_EQ(r->to_string(), c.canonical) << c.text;
  }
}

TEST(Cidr, RejectsBadText) {
  for (const char* bad : {"", "10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/8x",
                          "host.example", "!10.0.0.0/8", "10.0.0.0/-1", "[::1]/64"}) {
    auto r = parse_cidr(bad);
    EXPECT_FALSE(r) << "accepted '" << bad << "'";
  }
  EXPECT_FALSE(CidrSet::parse("10.0.0.0/8,,192.168.0.0/16"));
  EXPECT_FALSE(CidrSet::parse(""));
  auto e = CidrSet::parse("10.0.0.0/8,nope");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("'nope'"), std::string::npos) << e.error();
}

TEST(Cidr, Membership) {
  auto set = CidrSet::parse("10.0.0.0/8, 192.168.10.0/24,2001:db8::/32,198.51.100.7");
  ASSERT_TRUE(set);
  struct Case {
    const char* addr;
    bool inside;
  };
  const Case cases[] = {
      {"10.0.0.1", true},         {"10.255.255.255", true},   {"11.0.0.0", false},
      {"9.255.255.255", false},   {"192.168.10.200", true},   {"192.168.11.1", false},
      {"2001:db8::25", true},     {"2001:db9::25", false},    {"198.51.100.7", true},
      {"198.51.100.8", false},    {"::ffff:10.1.2.3", true},  {"::ffff:11.1.2.3", false},
      {"::a00:1", false},  // IPv4-compatible, not mapped: an IPv6 address
  };
  for (const auto& c : cases) EXPECT_EQ(set->contains(ip(c.addr)), c.inside) << c.addr;
  EXPECT_FALSE(CidrSet().contains(ip("10.0.0.1")));
  auto all = CidrSet::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(ip("203.0.113.9")));
  EXPECT_FALSE(all->contains(ip("2001:db8::1")));  // an IPv4 block never holds IPv6
}

TEST(Direction, Classification) {
  auto home = CidrSet::parse("10.0.0.0/8,2001:db8::/32");
  ASSERT_TRUE(home);
  struct Case {
    const char* client;
    const char* server;
    fleet::Direction want;
  };
  using fleet::Direction;
  const Case cases[] = {
      {"10.1.1.1", "203.0.113.5", Direction::Outbound},
      {"203.0.113.5", "10.1.1.1", Direction::Inbound},
      {"10.1.1.1", "10.2.2.2", Direction::Internal},
      {"198.51.100.1", "203.0.113.5", Direction::External},
      {"2001:db8::1", "2001:4860::1", Direction::Outbound},
      {"2001:4860::1", "2001:db8::25", Direction::Inbound},
      {"2001:db8::1", "2001:db8:1::25", Direction::Internal},
      {"::ffff:10.0.0.9", "2001:4860::1", Direction::Outbound},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(fleet::classify_direction(*home, ip(c.client), ip(c.server)), c.want)
        << c.client << " -> " << c.server;
  }
  EXPECT_EQ(fleet::classify_direction(CidrSet(), ip("10.1.1.1"), ip("203.0.113.5")),
            Direction::Unknown);
}

TEST(Direction, ListParsing) {
  using fleet::Direction;
  auto d = fleet::parse_direction_list("outbound,internal");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, fleet::DirectionSet::defaults());
  EXPECT_TRUE(d->contains(Direction::Outbound));
  EXPECT_FALSE(d->contains(Direction::Inbound));
  EXPECT_EQ(d->to_string(), "outbound,internal");
  auto a = fleet::parse_direction_list("all");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->contains(Direction::External));
  auto i = fleet::parse_direction_list(" inbound ");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->to_string(), "inbound");
  for (const char* bad : {"", "out", "outbound,", "outbound,sideways"}) {
    EXPECT_FALSE(fleet::parse_direction_list(bad)) << bad;
  }
}

// From corelight/community-id-spec baseline/baseline_deflt.json and baseline_seed1.json: the
// port-based protocols (TCP 6, UDP 17, SCTP 132), each in both directions.
TEST(CommunityId, PublishedBaseline) {
  struct Case {
    std::uint8_t proto;
    const char* saddr;
    const char* daddr;
    std::uint16_t sport;
    std::uint16_t dport;
    const char* seed0;
    const char* seed1;
  };
  const Case cases[] = {
      {6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
       "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
      {6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
       "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
      {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
       "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
      {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
       "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
      {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
       "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
      {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
       "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
      {132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
       "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
      {132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
       "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(fleet::community_id_v1(c.proto, ip(c.saddr), ip(c.daddr), c.sport, c.dport), c.seed0)
        << c.saddr << ":" << c.sport << " -> " << c.daddr << ":" << c.dport;
    EXPECT_EQ(fleet::community_id_v1(c.proto, ip(c.saddr), ip(c.daddr), c.sport, c.dport, 1), c.seed1)
        << "seed 1: " << c.saddr << ":" << c.sport;
  }
}

TEST(CommunityId, SameAddressOrderedByPort) {
  // Equal addresses: the smaller port goes first, so both directions agree.
  const IpAddress a = ip("10.0.0.1");
  EXPECT_EQ(fleet::community_id_v1(6, a, a, 40000, 25), fleet::community_id_v1(6, a, a, 25, 40000));
  EXPECT_NE(fleet::community_id_v1(6, a, a, 40000, 25), fleet::community_id_v1(6, a, a, 40001, 25));
}

class EvidenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rw-evidence-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  fleet::FlowKey key(std::uint16_t client_port) {
    return fleet::FlowKey::of(ip("10.0.0.1"), client_port, ip("10.0.0.2"), 25);
  }
  std::vector<std::string> files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::filesystem::path dir_;
  std::vector<std::uint8_t> frame_ = std::vector<std::uint8_t>(100, 0xAB);
};

TEST_F(EvidenceStoreTest, KeyIsTheSameBothWays) {
  EXPECT_EQ(fleet::FlowKey::of(ip("10.0.0.2"), 25, ip("10.0.0.1"), 40000),
            fleet::FlowKey::of(ip("10.0.0.1"), 40000, ip("10.0.0.2"), 25));
}

TEST_F(EvidenceStoreTest, WritesHeldFramesOnAlertAndFollowsUntilClose) {
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_;
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_TRUE(store) << store.error();
  auto& s = **store;
  for (int i = 0; i < 3; ++i) s.append(key(40000), Timestamp{1'000'000 + i}, 1, 100, frame_);
  EXPECT_EQ(s.counters().bytes_held, 3u * 116);
  const std::string name = s.on_alert(key(40000), 7, Timestamp{1'000'000});
  EXPECT_EQ(name, "7-1000000.pcap");
  EXPECT_EQ(s.on_alert(key(40000), 7, Timestamp{1'000'000}), name);  // once per connection
  EXPECT_EQ(s.counters().bytes_held, 0u);
  s.append(key(40000), Timestamp{1'000'010}, 1, 100, frame_);
  s.on_close(key(40000));
  EXPECT_FALSE(s.holds(key(40000)));
  EXPECT_EQ(std::filesystem::file_size(dir_ / name), 24u + 4 * 116);
  EXPECT_EQ(s.counters().files_written, 1u);
}

TEST_F(EvidenceStoreTest, ReleasesFlowsThatCloseWithoutAlert) {
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_;
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_TRUE(store);
  auto& s = **store;
  s.append(key(40000), Timestamp{1}, 1, 100, frame_);
  s.on_close(key(40000));
  EXPECT_EQ(s.counters().flows_released, 1u);
  EXPECT_EQ(s.counters().bytes_held, 0u);
  EXPECT_EQ(s.counters().flows_held, 0u);
  EXPECT_EQ(s.on_alert(key(40000), 1, Timestamp{1}), "");  // nothing held: no file
  EXPECT_TRUE(files().empty());
}

TEST_F(EvidenceStoreTest, PerFlowCapIsCounted) {
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_;
  cfg.max_bytes_per_flow = 300;  // two frames of 116
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_TRUE(store);
  auto& s = **store;
  for (int i = 0; i < 5; ++i) s.append(key(40000), Timestamp{i}, 1, 100, frame_);
  EXPECT_EQ(s.counters().flows_capped, 1u);
  EXPECT_EQ(s.counters().frames_over_cap, 3u);
  EXPECT_EQ(s.counters().bytes_held, 232u);
}

TEST_F(EvidenceStoreTest, TotalHeldCapEvictsLeastRecentlyUsed) {
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_;
  cfg.max_bytes_held = 3 * 116;
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_TRUE(store);
  auto& s = **store;
  s.append(key(1), Timestamp{1}, 1, 100, frame_);
  s.append(key(2), Timestamp{2}, 1, 100, frame_);
  s.append(key(1), Timestamp{3}, 1, 100, frame_);  // key 1 is now the most recent
  s.append(key(3), Timestamp{4}, 1, 100, frame_);  // over the cap: key 2 goes
  EXPECT_EQ(s.counters().flows_evicted, 1u);
  EXPECT_TRUE(s.holds(key(1)));
  EXPECT_FALSE(s.holds(key(2)));
  EXPECT_TRUE(s.holds(key(3)));
  EXPECT_LE(s.counters().bytes_held, cfg.max_bytes_held);
}

TEST_F(EvidenceStoreTest, RotatesOldestFilesIncludingOnesFromBefore) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "1-100.pcap") << "old";  // left by an earlier run
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_;
  cfg.max_files = 2;
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_TRUE(store);
  auto& s = **store;
  for (std::uint16_t p = 1; p <= 3; ++p) {
    s.append(key(p), Timestamp{p}, 1, 100, frame_);
    ASSERT_FALSE(s.on_alert(key(p), 10u + p, Timestamp{p}).empty());
  }
  s.append(key(1), Timestamp{9}, 1, 100, frame_);  // its file is gone: nothing is written
  EXPECT_EQ(files(), (std::vector<std::string>{"12-2.pcap", "13-3.pcap"}));
  EXPECT_EQ(s.counters().files_rotated, 2u);
}

TEST_F(EvidenceStoreTest, RefusesAFileAsDirectory) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "plain") << "x";
  fleet::EvidenceConfig cfg;
  cfg.dir = dir_ / "plain";
  auto store = fleet::EvidenceStore::open(cfg);
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().find("plain"), std::string::npos) << store.error();
}

}  // namespace
}  // namespace rcptwatch
