// Tests for PacketDecoder: every link type, VLAN stacks, IPv6 extension headers, malformed and
// truncated input, non-TCP traffic, and IPv4/IPv6 fragment reassembly through decode().
#include "decode/decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <string>

#include "frame_builder.h"

namespace rcptwatch::decode {
namespace {

using namespace testing;  // NOLINT: the frame builders

constexpr std::uint32_t kEthernet = 1;
constexpr std::uint32_t kNull = 0;
constexpr std::uint32_t kRaw = 101;
constexpr std::uint32_t kLoop = 108;
constexpr std::uint32_t kSll = 113;
constexpr std::uint32_t kIpv4Link = 228;
constexpr std::uint32_t kIpv6Link = 229;
constexpr std::uint32_t kSll2 = 276;

const TcpSpec kSpec{};
const std::string kPayload{kSpec.payload};

std::string payload_of(const TcpSegment& s) {
  return std::string(reinterpret_cast<const char*>(s.payload.data()), s.payload.size());
}

Buf v4_tcp(const TcpSpec& t = {}) { return ipv4({}, view(tcp(t))); }
Buf v6_tcp(const TcpSpec& t = {}) { return ipv6({}, view(tcp(t))); }

std::uint64_t outcome_sum(const DecodeCounters& c) {
  return c.tcp + c.not_tcp + c.not_ip + c.unsupported_link + c.malformed + c.fragments_held;
}

// The frame is usually a temporary, so the payload is copied out and the view cleared.
struct Decoded {
  DecodeStatus status;
  TcpSegment seg;
  std::string payload;
};

Decoded decode_once(std::uint32_t link, const Buf& frame) {
  PacketDecoder d;
  Decoded r{};
  r.status = d.decode(link, view(frame), Timestamp{1}, r.seg);
  r.payload = payload_of(r.seg);
  r.seg.payload = {};
  EXPECT_EQ(d.counters().packets, 1u);
  EXPECT_EQ(outcome_sum(d.counters()), 1u);
  return r;
}

// ---- every link type carries IPv4 and IPv6 TCP ----

struct LinkCase {
  std::string name;
  std::uint32_t link;
  std::function<Buf(const Buf& ip, bool v6)> frame;
};

std::vector<LinkCase> link_cases() {
  return {
      {"ethernet", kEthernet,
       [](const Buf& ip, bool v6) { return ethernet(v6 ? 0x86DD : 0x0800, view(ip)); }},
      {"sll", kSll, [](const Buf& ip, bool v6) { return sll(v6 ? 0x86DD : 0x0800, view(ip)); }},
      {"sll2", kSll2, [](const Buf& ip, bool v6) { return sll2(v6 ? 0x86DD : 0x0800, view(ip)); }},
      {"raw101", kRaw, [](const Buf& ip, bool) { return ip; }},
      {"raw12", 12, [](const Buf& ip, bool) { return ip; }},
      {"raw14", 14, [](const Buf& ip, bool) { return ip; }},
      {"null_le", kNull, [](const Buf& ip, bool v6) { return null_le(v6 ? 30 : 2, view(ip)); }},
      {"null_be", kNull, [](const Buf& ip, bool v6) { return null_be(v6 ? 28 : 2, view(ip)); }},
      {"null_le_af24", kNull, [](const Buf& ip, bool v6) { return null_le(v6 ? 24 : 2, view(ip)); }},
      {"null_be_af30", kNull, [](const Buf& ip, bool v6) { return null_be(v6 ? 30 : 2, view(ip)); }},
      {"loop", kLoop, [](const Buf& ip, bool v6) { return null_be(v6 ? 24 : 2, view(ip)); }},
      {"loop_af28", kLoop, [](const Buf& ip, bool v6) { return null_be(v6 ? 28 : 2, view(ip)); }},
  };
}

TEST(DecoderLinks, EveryLinkTypeCarriesIpv4AndIpv6Tcp) {
  for (const LinkCase& lc : link_cases()) {
    for (bool v6 : {false, true}) {
      SCOPED_TRACE(lc.name + (v6 ? " v6" : " v4"));
      const Buf frame = lc.frame(v6 ? v6_tcp() : v4_tcp(), v6);
      PacketDecoder d;
      TcpSegment seg;
      ASSERT_EQ(d.decode(lc.link, view(frame), Timestamp{1}, seg), DecodeStatus::Tcp);
      EXPECT_EQ(seg.src_port, 40000);
      EXPECT_EQ(seg.dst_port, 25);
      EXPECT_EQ(seg.seq, 0x01020304u);
      EXPECT_EQ(seg.ack, 0xA0B0C0D0u);
      EXPECT_EQ(seg.flags, tcp_flag::kPsh | tcp_flag::kAck);
      EXPECT_TRUE(seg.has(tcp_flag::kAck));
      EXPECT_FALSE(seg.has(tcp_flag::kSyn));
      EXPECT_EQ(seg.window, 0xFFEE);
      EXPECT_EQ(payload_of(seg), kPayload);
      if (v6) {
        EXPECT_EQ(seg.src, IpAddress::v6(kV6Src.data()));
        EXPECT_EQ(seg.dst, IpAddress::v6(kV6Dst.data()));
        EXPECT_EQ(d.counters().ipv6, 1u);
      } else {
        EXPECT_EQ(seg.src, IpAddress::v4(kV4Src.data()));
        EXPECT_EQ(seg.dst, IpAddress::v4(kV4Dst.data()));
        EXPECT_EQ(seg.src.to_string(), "192.0.2.1");
        EXPECT_EQ(d.counters().ipv4, 1u);
      }
      EXPECT_EQ(d.counters().tcp, 1u);
      EXPECT_EQ(d.counters().packets, 1u);
    }
  }
}

TEST(DecoderLinks, DedicatedIpv4AndIpv6LinkTypes) {
  EXPECT_EQ(decode_once(kIpv4Link, v4_tcp()).status, DecodeStatus::Tcp);
  EXPECT_EQ(decode_once(kIpv6Link, v6_tcp()).status, DecodeStatus::Tcp);
  // The link type decides, not the version nibble.
  EXPECT_EQ(decode_once(kIpv4Link, v6_tcp()).status, DecodeStatus::Malformed);
  EXPECT_EQ(decode_once(kIpv6Link, v4_tcp()).status, DecodeStatus::Malformed);
}

TEST(DecoderLinks, UnsupportedLinkTypes) {
  for (std::uint32_t link : {3u, 9u, 105u, 127u, 147u, 192u, 275u, 277u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(link);
    EXPECT_EQ(decode_once(link, v4_tcp()).status, DecodeStatus::UnsupportedLink);
  }
  PacketDecoder d;
  TcpSegment seg;
  d.decode(127, view(v4_tcp()), Timestamp{1}, seg);
  EXPECT_EQ(d.counters().unsupported_link, 1u);
}

TEST(DecoderLinks, NonIpFrames) {
  const Buf arp = ByteWriter{}.be16(1).be16(0x0800).u8(6).u8(4).be16(1).fill(20, 0).b;
  struct Case {
    std::string name;
    std::uint32_t link;
    Buf frame;
  };
  const std::vector<Case> cases = {
      {"ethernet arp", kEthernet, ethernet(0x0806, view(arp))},
      {"ethernet lldp", kEthernet, ethernet(0x88CC, view(arp))},
      {"ethernet 802.3 length", kEthernet, ethernet(0x002E, view(arp))},
      {"vlan arp", kEthernet, ethernet(0x0806, view(arp), {{0x8100, 5}})},
      {"sll arp", kSll, sll(0x0806, view(arp))},
      {"sll2 arp", kSll2, sll2(0x0806, view(arp))},
      {"null af_unix", kNull, null_le(1, view(v4_tcp()))},
      {"null af 7", kNull, null_be(7, view(v4_tcp()))},
      // Loop is always network order: a little-endian 2 is 0x02000000, not AF_INET.
      {"loop little endian", kLoop, null_le(2, view(v4_tcp()))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(decode_once(c.link, c.frame).status, DecodeStatus::NotIp);
  }
}

// ---- VLAN and QinQ ----

TEST(DecoderVlan, StackedTagsArePeeledAndCounted) {
  struct Case {
    std::string name;
    std::vector<VlanTag> tags;
  };
  const std::vector<Case> cases = {
      {"none", {}},
      {"802.1Q", {{0x8100, 100}}},
      {"QinQ 88a8", {{0x88A8, 10}, {0x8100, 100}}},
      {"QinQ 9100", {{0x9100, 10}, {0x8100, 100}}},
      {"triple", {{0x88A8, 1}, {0x8100, 2}, {0x8100, 3}}},
      {"eight", std::vector<VlanTag>(8, {0x8100, 7})},
  };
  for (const Case& c : cases) {
    for (bool v6 : {false, true}) {
      SCOPED_TRACE(c.name + (v6 ? " v6" : " v4"));
      PacketDecoder d;
      TcpSegment seg;
      const Buf frame = ethernet(v6 ? 0x86DD : 0x0800, view(v6 ? v6_tcp() : v4_tcp()), c.tags);
      ASSERT_EQ(d.decode(kEthernet, view(frame), Timestamp{1}, seg), DecodeStatus::Tcp);
      EXPECT_EQ(payload_of(seg), kPayload);
      EXPECT_EQ(d.counters().vlan_tags, c.tags.size());
    }
  }
}

TEST(DecoderVlan, TooManyTagsIsMalformed) {
  const Buf frame = ethernet(0x0800, view(v4_tcp()), std::vector<VlanTag>(9, {0x8100, 7}));
  EXPECT_EQ(decode_once(kEthernet, frame).status, DecodeStatus::Malformed);
}

TEST(DecoderVlan, TagAfterCookedHeader) {
  // libpcap re-inserts the VLAN tag after an SLL header.
  const Buf inner = ByteWriter{}.be16(42).be16(0x0800).bytes(view(v4_tcp())).b;
  EXPECT_EQ(decode_once(kSll, sll(0x8100, view(inner))).status, DecodeStatus::Tcp);
  EXPECT_EQ(decode_once(kSll2, sll2(0x8100, view(inner))).status, DecodeStatus::Tcp);
}

// ---- IP and TCP header details ----

TEST(DecoderIp, Ipv4OptionsAndTcpOptionsAreSkipped) {
  for (std::size_t ip_opts : {0u, 4u, 12u, 40u}) {
    for (std::size_t tcp_opts : {0u, 4u, 12u, 40u}) {
      SCOPED_TRACE(std::to_string(ip_opts) + "/" + std::to_string(tcp_opts));
      TcpSpec t;
      t.option_bytes = tcp_opts;
      Ipv4Spec s;
      s.option_bytes = ip_opts;
      const auto r = decode_once(kRaw, ipv4(s, view(tcp(t))));
      ASSERT_EQ(r.status, DecodeStatus::Tcp);
      EXPECT_EQ(r.payload, kPayload);
    }
  }
}

TEST(DecoderIp, EthernetPaddingIsIgnored) {
  TcpSpec t;
  t.payload = "";
  t.flags = tcp_flag::kSyn;
  Buf frame = ethernet(0x0800, view(v4_tcp(t)));
  ASSERT_EQ(frame.size(), 54u);
  frame.resize(60, 0xEE);  // minimum Ethernet frame, padded with junk
  auto r = decode_once(kEthernet, frame);
  ASSERT_EQ(r.status, DecodeStatus::Tcp);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_TRUE(r.seg.has(tcp_flag::kSyn));

  Buf frame6 = ethernet(0x86DD, view(v6_tcp()));
  frame6.resize(frame6.size() + 7, 0xEE);
  r = decode_once(kEthernet, frame6);
  ASSERT_EQ(r.status, DecodeStatus::Tcp);
  EXPECT_EQ(r.payload, kPayload);
}

TEST(DecoderIp, SnaplenTruncationKeepsWhatWasCaptured) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6);
    Buf ip = v6 ? v6_tcp() : v4_tcp();
    ip.resize(ip.size() - 5);
    PacketDecoder d;
    TcpSegment seg;
    ASSERT_EQ(d.decode(kRaw, view(ip), Timestamp{1}, seg), DecodeStatus::Tcp);
    EXPECT_EQ(payload_of(seg), kPayload.substr(0, kPayload.size() - 5));
    EXPECT_EQ(d.counters().truncated, 1u);
  }
}

TEST(DecoderIp, AllTcpFlagBits) {
  TcpSpec t;
  t.flags = 0xFF;
  const auto r = decode_once(kRaw, v4_tcp(t));
  ASSERT_EQ(r.status, DecodeStatus::Tcp);
  for (std::uint8_t f : {tcp_flag::kFin, tcp_flag::kSyn, tcp_flag::kRst, tcp_flag::kPsh,
                         tcp_flag::kAck, tcp_flag::kUrg, tcp_flag::kEce, tcp_flag::kCwr}) {
    EXPECT_TRUE(r.seg.has(f));
  }
}

TEST(DecoderIp, Ipv6ExtensionHeaders) {
  const Buf seg = tcp();
  struct Case {
    std::string name;
    std::uint8_t first;
    Buf chain;
  };
  const std::vector<Case> cases = {
      {"hop-by-hop", 0, ipv6_ext(6)},
      {"hbh long", 0, ipv6_ext(6, 3)},
      {"routing", 43, ipv6_ext(6, 2)},
      {"dest opts", 60, ipv6_ext(6)},
      {"ah", 51, ipv6_ah(6)},
      {"atomic fragment", 44, ipv6_frag_header(6, 0, false, 99)},
      {"all of them", 0,
       concat({view(ipv6_ext(60)), view(ipv6_ext(43)), view(ipv6_ext(51, 1)), view(ipv6_ah(44)),
               view(ipv6_frag_header(60, 0, false, 7)), view(ipv6_ext(6))})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Ipv6Spec s;
    s.next_header = c.first;
    const auto r = decode_once(kRaw, ipv6(s, view(concat({view(c.chain), view(seg)}))));
    ASSERT_EQ(r.status, DecodeStatus::Tcp);
    EXPECT_EQ(r.payload, kPayload);
    EXPECT_EQ(r.seg.dst_port, 25);
  }
}

TEST(DecoderIp, NonTcpIsNotTcp) {
  const Buf udp = ByteWriter{}.be16(53).be16(53).be16(12).be16(0).be32(0).b;
  struct Case {
    std::string name;
    Buf ip;
  };
  Ipv4Spec udp4;
  udp4.protocol = 17;
  Ipv4Spec icmp4;
  icmp4.protocol = 1;
  Ipv6Spec udp6;
  udp6.next_header = 17;
  Ipv6Spec icmp6;
  icmp6.next_header = 58;
  Ipv6Spec esp;
  esp.next_header = 50;
  Ipv6Spec none;
  none.next_header = 59;
  Ipv6Spec hbh;
  hbh.next_header = 0;
  const std::vector<Case> cases = {
      {"udp4", ipv4(udp4, view(udp))},
      {"icmp4", ipv4(icmp4, view(udp))},
      {"udp6", ipv6(udp6, view(udp))},
      {"icmp6", ipv6(icmp6, view(udp))},
      {"esp", ipv6(esp, view(udp))},
      {"no next header", ipv6(none, view(udp))},  // bytes after it are ignored
      {"hbh then udp", ipv6(hbh, view(concat({view(ipv6_ext(17)), view(udp)})))},
      {"hbh then esp", ipv6(hbh, view(concat({view(ipv6_ext(50)), view(udp)})))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PacketDecoder d;
    TcpSegment seg;
    EXPECT_EQ(d.decode(kRaw, view(c.ip), Timestamp{1}, seg), DecodeStatus::NotTcp);
    EXPECT_EQ(d.counters().not_tcp, 1u);
  }
}

TEST(DecoderIp, MalformedHeaders) {
  struct Case {
    std::string name;
    std::uint32_t link;
    Buf frame;
  };
  std::vector<Case> cases;
  auto v4 = [](std::function<void(Ipv4Spec&)> edit, const TcpSpec& t = {}) {
    Ipv4Spec s;
    edit(s);
    return ipv4(s, view(tcp(t)));
  };
  cases.push_back({"ihl 0", kRaw, v4([](Ipv4Spec& s) { s.ihl_override = 0; })});
  cases.push_back({"ihl 4", kRaw, v4([](Ipv4Spec& s) { s.ihl_override = 4; })});
  {
    // IHL 15 claims 60 header bytes; only 20 + 20 exist when TCP has no payload.
    TcpSpec t;
    t.payload = "";
    cases.push_back({"ihl beyond capture", kRaw, v4([](Ipv4Spec& s) { s.ihl_override = 15; }, t)});
  }
  cases.push_back({"total length below header", kRaw,
                   v4([](Ipv4Spec& s) { s.total_length_override = 19; })});
  cases.push_back({"total length below ihl", kRaw, v4([](Ipv4Spec& s) {
                     s.option_bytes = 8;
                     s.total_length_override = 24;
                   })});
  cases.push_back({"total length cuts tcp header", kRaw,
                   v4([](Ipv4Spec& s) { s.total_length_override = 30; })});
  cases.push_back({"ipv4 ethertype with version 6", kEthernet, ethernet(0x0800, view(v6_tcp()))});
  cases.push_back({"ipv6 ethertype with version 4", kEthernet, ethernet(0x86DD, view(v4_tcp()))});
  cases.push_back({"ipv4 version 5", kRaw, v4([](Ipv4Spec& s) { s.version_override = 5; })});
  cases.push_back({"raw version 0", kRaw, Buf(40, 0)});
  cases.push_back({"raw empty", kRaw, Buf{}});
  for (std::uint8_t doff : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{4}, std::uint8_t{15}}) {
    TcpSpec t;
    t.data_offset_override = doff;
    t.payload = "";
    cases.push_back({"data offset " + std::to_string(doff), kRaw, v4_tcp(t)});
    cases.push_back({"v6 data offset " + std::to_string(doff), kRaw, v6_tcp(t)});
  }
  {
    Ipv6Spec s;
    s.payload_length_override = 0;
    cases.push_back({"jumbogram", kRaw, ipv6(s, view(tcp()))});
  }
  {
    Ipv6Spec s;
    s.version_override = 7;
    cases.push_back({"v6 version 7", kIpv6Link, ipv6(s, view(tcp()))});
  }
  {
    Ipv6Spec s;
    s.next_header = 0;
    // Hop-by-Hop claims 8 * 256 bytes.
    cases.push_back({"ext header too long", kRaw, ipv6(s, view(concat({view(ipv6_ext(6, 255))})))});
  }
  {
    Ipv6Spec s;
    s.next_header = 60;
    Buf chain;
    for (int i = 0; i < 17; ++i) {
      const Buf e = ipv6_ext(60);
      chain.insert(chain.end(), e.begin(), e.end());
    }
    const Buf last = ipv6_ext(6);
    chain.insert(chain.end(), last.begin(), last.end());
    const Buf t = tcp();
    chain.insert(chain.end(), t.begin(), t.end());
    cases.push_back({"too many ext headers", kRaw, ipv6(s, view(chain))});
  }
  {
    Ipv6Spec s;
    s.next_header = 44;
    // Atomic fragment whose payload holds another Fragment header.
    cases.push_back({"nested fragment header", kRaw,
                     ipv6(s, view(concat({view(ipv6_frag_header(44, 0, false, 1)),
                                          view(ipv6_frag_header(6, 0, false, 2)),
                                          view(tcp())})))});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PacketDecoder d;
    TcpSegment seg;
    seg.src_port = 7;
    EXPECT_EQ(d.decode(c.link, view(c.frame), Timestamp{1}, seg), DecodeStatus::Malformed);
    EXPECT_EQ(d.counters().malformed, 1u);
    EXPECT_EQ(seg.src_port, 7) << "out must be untouched when the result is not Tcp";
  }
}

TEST(DecoderIp, AcceptedEdgeValues) {
  // The tightest legal headers: IHL 15 with a full option area, data offset 15.
  TcpSpec t;
  t.option_bytes = 40;
  Ipv4Spec s;
  s.option_bytes = 40;
  auto r = decode_once(kRaw, ipv4(s, view(tcp(t))));
  ASSERT_EQ(r.status, DecodeStatus::Tcp);
  EXPECT_EQ(r.payload, kPayload);
  // Don't-fragment set is not a fragment.
  Ipv4Spec df;
  df.dont_fragment = true;
  EXPECT_EQ(decode_once(kRaw, ipv4(df, view(tcp()))).status, DecodeStatus::Tcp);
}

// ---- truncation at every length ----

TEST(DecoderTruncation, EveryPrefixOfEveryFrame) {
  for (const LinkCase& lc : link_cases()) {
    for (bool v6 : {false, true}) {
      SCOPED_TRACE(lc.name + (v6 ? " v6" : " v4"));
      // IPv6 carries a Hop-by-Hop header so the extension walk is cut too.
      Ipv6Spec s6;
      s6.next_header = 0;
      const Buf ip = v6 ? ipv6(s6, view(concat({view(ipv6_ext(6)), view(tcp())}))) : v4_tcp();
      Buf frame = lc.frame(ip, v6);
      std::size_t link_len = frame.size() - ip.size();
      if (lc.link == kEthernet) {  // two VLAN tags so the tag loop is cut too
        frame = ethernet(v6 ? 0x86DD : 0x0800, view(ip), {{0x88A8, 1}, {0x8100, 2}});
        link_len = 22;
      }
      const std::size_t headers = link_len + (v6 ? 48 : 20) + 20;
      PacketDecoder d;
      for (std::size_t n = 0; n <= frame.size(); ++n) {
        SCOPED_TRACE(n);
        TcpSegment seg;
        const auto status = d.decode(lc.link, Bytes(frame.data(), n), Timestamp{1}, seg);
        if (n < headers) {
          EXPECT_EQ(status, DecodeStatus::Malformed);
        } else {
          ASSERT_EQ(status, DecodeStatus::Tcp);
          EXPECT_EQ(seg.payload.size(), n - headers);
        }
      }
      EXPECT_EQ(d.counters().packets, frame.size() + 1);
      EXPECT_EQ(outcome_sum(d.counters()), d.counters().packets);
    }
  }
}

// ---- fragments through decode() ----

struct FragmentFixture : ::testing::Test {
  // A TCP segment of 20 + 44 bytes split on 8-byte boundaries into 24 + 24 + 16.
  std::string text = "MAIL FROM:<x@example.org>\r\nRCPT TO:<y@nat0.int>\r\n...";
  Buf segment;
  std::vector<Buf> frames;

  void SetUp() override {
    text.resize(44, '.');
    TcpSpec t;
    t.payload = text;
    segment = tcp(t);
    frames = v4_fragments(segment, {0, 24, 48}, 0x4242);
  }

  static std::vector<Buf> v4_fragments(const Buf& data, std::vector<std::size_t> cuts,
                                       std::uint16_t id, std::uint8_t protocol = 6) {
    std::vector<Buf> out;
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      const std::size_t end = i + 1 < cuts.size() ? cuts[i + 1] : data.size();
      Ipv4Spec s;
      s.id = id;
      s.protocol = protocol;
      s.offset_units = static_cast<std::uint16_t>(cuts[i] / 8);
      s.more_fragments = i + 1 < cuts.size();
      out.push_back(ipv4(s, Bytes(data.data() + cuts[i], end - cuts[i])));
    }
    return out;
  }

  static std::vector<Buf> v6_fragments(const Buf& data, std::vector<std::size_t> cuts,
                                       std::uint32_t id, std::uint8_t next_header = 6) {
    std::vector<Buf> out;
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      const std::size_t end = i + 1 < cuts.size() ? cuts[i + 1] : data.size();
      Ipv6Spec s;
      s.next_header = 44;
      const Buf fh = ipv6_frag_header(next_header, static_cast<std::uint16_t>(cuts[i] / 8),
                                      i + 1 < cuts.size(), id);
      out.push_back(ipv6(s, view(concat({view(fh), Bytes(data.data() + cuts[i], end - cuts[i])}))));
    }
    return out;
  }

  DecodeStatus feed(PacketDecoder& d, const Buf& ip, std::int64_t usec, TcpSegment& seg) {
    return d.decode(kRaw, view(ip), Timestamp{usec}, seg);
  }
};

TEST_F(FragmentFixture, Ipv4InOrder) {
  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 2, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[2], 3, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
  EXPECT_EQ(seg.dst_port, 25);
  EXPECT_EQ(seg.src, IpAddress::v4(kV4Src.data()));
  const auto& c = d.counters();
  EXPECT_EQ(c.fragments, 3u);
  EXPECT_EQ(c.fragments_reassembled, 1u);
  EXPECT_EQ(c.fragments_held, 2u);
  EXPECT_EQ(c.tcp, 1u);
  EXPECT_EQ(c.fragments_dropped, 0u);
  EXPECT_EQ(outcome_sum(c), c.packets);
}

TEST_F(FragmentFixture, Ipv4EveryOrder) {
  std::vector<std::size_t> order{0, 1, 2};
  int permutations = 0;
  do {
    SCOPED_TRACE(std::to_string(order[0]) + std::to_string(order[1]) + std::to_string(order[2]));
    PacketDecoder d;
    TcpSegment seg;
    EXPECT_EQ(feed(d, frames[order[0]], 1, seg), DecodeStatus::FragmentHeld);
    EXPECT_EQ(feed(d, frames[order[1]], 2, seg), DecodeStatus::FragmentHeld);
    ASSERT_EQ(feed(d, frames[order[2]], 3, seg), DecodeStatus::Tcp);
    EXPECT_EQ(payload_of(seg), text);
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 6);
}

TEST_F(FragmentFixture, Ipv4ReverseOrderWithManySmallFragments) {
  std::vector<std::size_t> cuts;
  for (std::size_t off = 0; off < segment.size(); off += 8) {
    cuts.push_back(off);
  }
  auto small = v4_fragments(segment, cuts, 7);
  std::reverse(small.begin(), small.end());
  PacketDecoder d;
  TcpSegment seg;
  for (std::size_t i = 0; i + 1 < small.size(); ++i) {
    ASSERT_EQ(feed(d, small[i], 1, seg), DecodeStatus::FragmentHeld);
  }
  ASSERT_EQ(feed(d, small.back(), 2, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, Ipv4DuplicateFragmentIsCountedAsOverlap) {
  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 2, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[0], 3, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[2], 4, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
  EXPECT_EQ(d.counters().fragments_overlap, 1u);
  EXPECT_EQ(d.counters().fragments_dropped, 0u);
}

TEST_F(FragmentFixture, Ipv4OverlapKeepsFirstReceivedBytes) {
  // A forged fragment rewrites bytes 24..47 (payload 4..27) with 'Z' after the real one.
  Buf forged_data(segment.begin() + 16, segment.begin() + 48);
  std::fill(forged_data.begin() + 8, forged_data.end(), 'Z');
  Ipv4Spec s;
  s.id = 0x4242;
  s.offset_units = 2;
  s.more_fragments = true;
  const Buf forged = ipv4(s, view(forged_data));

  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, forged, 2, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[0], 3, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[2], 4, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
  EXPECT_EQ(d.counters().fragments_overlap, 2u);  // forged overlaps [1]; [0] overlaps forged
}

TEST_F(FragmentFixture, Ipv4FragmentsOfDifferentDatagramsDoNotMix) {
  PacketDecoder d;
  TcpSegment seg;
  const auto other_id = v4_fragments(segment, {0, 24, 48}, 0x4243);
  const auto udp = v4_fragments(segment, {0, 24, 48}, 0x4242, 17);
  EXPECT_EQ(feed(d, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, other_id[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, udp[2], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, udp[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, udp[0], 1, seg), DecodeStatus::NotTcp);  // reassembled, but UDP
  EXPECT_EQ(feed(d, frames[2], 1, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[1], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
  EXPECT_EQ(d.counters().fragments_reassembled, 2u);
}

TEST_F(FragmentFixture, Ipv4TimeoutExpiresHeldFragments) {
  DecoderLimits limits;
  limits.fragment_timeout_usec = 30'000'000;
  PacketDecoder d(limits);
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[0], 0, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 29'999'999, seg), DecodeStatus::FragmentHeld);
  // The datagram started at 0 has expired by 30 s; the last fragment starts a new one.
  EXPECT_EQ(feed(d, frames[2], 30'000'000, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d.counters().fragment_datagrams_expired, 1u);
  EXPECT_EQ(d.counters().fragments_dropped, 2u);
  EXPECT_EQ(d.counters().fragments_reassembled, 0u);
  // Re-sent fragments within the new datagram's lifetime complete it.
  EXPECT_EQ(feed(d, frames[0], 31'000'000, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[1], 32'000'000, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, TimeoutRunsOnAnyPacket) {
  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[0], 0, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, v4_tcp(), 10'000'000, seg), DecodeStatus::Tcp);
  EXPECT_EQ(d.counters().fragment_datagrams_expired, 0u);
  EXPECT_EQ(feed(d, v4_tcp(), 40'000'000, seg), DecodeStatus::Tcp);
  EXPECT_EQ(d.counters().fragment_datagrams_expired, 1u);
  EXPECT_EQ(d.counters().fragments_dropped, 1u);
}

TEST_F(FragmentFixture, DatagramCap) {
  DecoderLimits limits;
  limits.max_fragment_datagrams = 2;
  PacketDecoder d(limits);
  TcpSegment seg;
  const auto a = v4_fragments(segment, {0, 24, 48}, 1);
  const auto b = v4_fragments(segment, {0, 24, 48}, 2);
  const auto c = v4_fragments(segment, {0, 24, 48}, 3);
  EXPECT_EQ(feed(d, a[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, b[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, c[0], 1, seg), DecodeStatus::FragmentHeld);  // over the cap: dropped
  EXPECT_EQ(d.counters().fragments_dropped, 1u);
  // Datagrams already held still complete; once one does, there is room again.
  EXPECT_EQ(feed(d, a[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, a[2], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(feed(d, c[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, c[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, c[2], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(d.counters().fragments_dropped, 1u);
  EXPECT_EQ(d.counters().fragments_reassembled, 2u);
}

TEST_F(FragmentFixture, ByteCap) {
  DecoderLimits limits;
  limits.max_fragment_bytes = 48;  // enough for fragments 0 and 1, not for the end at 64
  PacketDecoder d(limits);
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[2], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d.counters().fragments_dropped, 1u);
  EXPECT_EQ(d.counters().tcp, 0u);

  // A lone fragment far into the datagram is refused outright.
  PacketDecoder d2(limits);
  EXPECT_EQ(feed(d2, frames[2], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d2.counters().fragments_dropped, 1u);
  EXPECT_EQ(feed(d2, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d2.counters().fragments_dropped, 1u);
}

TEST_F(FragmentFixture, FragmentsPerDatagramCap) {
  DecoderLimits limits;
  limits.max_fragments_per_datagram = 2;
  PacketDecoder d(limits);
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 1, seg), DecodeStatus::FragmentHeld);  // third: whole datagram gone
  EXPECT_EQ(d.counters().fragments_dropped, 3u);
  EXPECT_EQ(feed(d, frames[2], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d.counters().tcp, 0u);
}

TEST_F(FragmentFixture, MalformedFragments) {
  PacketDecoder d;
  TcpSegment seg;
  // Middle fragment whose length is not a multiple of 8.
  Ipv4Spec odd;
  odd.more_fragments = true;
  odd.offset_units = 3;
  EXPECT_EQ(feed(d, ipv4(odd, view(Buf(12, 'x'))), 1, seg), DecodeStatus::Malformed);
  // Beyond 64 KiB.
  Ipv4Spec far;
  far.offset_units = 0x1FFF;
  EXPECT_EQ(feed(d, ipv4(far, view(Buf(64, 'x'))), 1, seg), DecodeStatus::Malformed);
  // Cut by the snaplen.
  Buf cut = frames[1];
  cut.resize(cut.size() - 3);
  EXPECT_EQ(feed(d, cut, 1, seg), DecodeStatus::Malformed);
  // Reassembled payload too short for a TCP header.
  const Buf tiny(16, 0);
  const auto tiny_frags = v4_fragments(tiny, {0, 8}, 9);
  EXPECT_EQ(feed(d, tiny_frags[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, tiny_frags[1], 1, seg), DecodeStatus::Malformed);
  EXPECT_EQ(d.counters().malformed, 4u);
  EXPECT_EQ(outcome_sum(d.counters()), d.counters().packets);
}

TEST_F(FragmentFixture, InconsistentEndsDropTheDatagram) {
  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frames[2], 1, seg), DecodeStatus::FragmentHeld);  // ends at 64
  // A second last fragment that ends at 56 instead.
  Ipv4Spec s;
  s.id = 0x4242;
  s.offset_units = 6;
  EXPECT_EQ(feed(d, ipv4(s, view(Buf(8, 'q'))), 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(d.counters().fragments_dropped, 2u);
  // Fresh datagram afterwards works.
  EXPECT_EQ(feed(d, frames[0], 2, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frames[1], 2, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frames[2], 2, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, Ipv6EveryOrder) {
  const auto v6 = v6_fragments(segment, {0, 24, 48}, 0xDEADBEEF);
  std::vector<std::size_t> order{0, 1, 2};
  do {
    PacketDecoder d;
    TcpSegment seg;
    EXPECT_EQ(feed(d, v6[order[0]], 1, seg), DecodeStatus::FragmentHeld);
    EXPECT_EQ(feed(d, v6[order[1]], 1, seg), DecodeStatus::FragmentHeld);
    ASSERT_EQ(feed(d, v6[order[2]], 1, seg), DecodeStatus::Tcp);
    EXPECT_EQ(payload_of(seg), text);
    EXPECT_EQ(seg.src, IpAddress::v6(kV6Src.data()));
    EXPECT_EQ(d.counters().fragments_reassembled, 1u);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_F(FragmentFixture, Ipv6FragmentableExtensionHeaders) {
  // Destination Options inside the fragmentable part, and Hop-by-Hop before the Fragment header.
  const Buf inner = concat({view(ipv6_ext(6)), view(segment)});  // 8 + 64 bytes
  std::vector<Buf> frags;
  const std::vector<std::size_t> cuts{0, 32, 56};
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    const std::size_t end = i + 1 < cuts.size() ? cuts[i + 1] : inner.size();
    Ipv6Spec s;
    s.next_header = 0;
    const Buf fh = ipv6_frag_header(60, static_cast<std::uint16_t>(cuts[i] / 8),
                                    i + 1 < cuts.size(), 77);
    frags.push_back(ipv6(s, view(concat({view(ipv6_ext(44)), view(fh),
                                          Bytes(inner.data() + cuts[i], end - cuts[i])}))));
  }
  PacketDecoder d;
  TcpSegment seg;
  EXPECT_EQ(feed(d, frags[2], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, frags[0], 1, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, frags[1], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, Ipv6NonTcpAndDistinctIds) {
  PacketDecoder d;
  TcpSegment seg;
  const auto udp = v6_fragments(segment, {0, 32}, 5, 17);
  const auto tcp6 = v6_fragments(segment, {0, 32}, 6);
  EXPECT_EQ(feed(d, udp[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, tcp6[1], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, udp[1], 1, seg), DecodeStatus::NotTcp);
  ASSERT_EQ(feed(d, tcp6[0], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, Ipv6FragmentCutBySnaplenIsNotStored) {
  auto v6 = v6_fragments(segment, {0, 24, 48}, 3);
  PacketDecoder d;
  TcpSegment seg;
  Buf cut = v6[2];
  cut.resize(cut.size() - 3);
  EXPECT_EQ(feed(d, cut, 1, seg), DecodeStatus::Malformed);
  EXPECT_EQ(d.counters().fragments_dropped, 1u);
  EXPECT_EQ(feed(d, v6[0], 1, seg), DecodeStatus::FragmentHeld);
  EXPECT_EQ(feed(d, v6[1], 1, seg), DecodeStatus::FragmentHeld);
  ASSERT_EQ(feed(d, v6[2], 1, seg), DecodeStatus::Tcp);
  EXPECT_EQ(payload_of(seg), text);
}

TEST_F(FragmentFixture, Ipv6TruncatedFragmentHeader) {
  Ipv6Spec s;
  s.next_header = 44;
  const Buf fh = ipv6_frag_header(6, 1, true, 1);
  EXPECT_EQ(decode_once(kRaw, ipv6(s, Bytes(fh.data(), 7))).status, DecodeStatus::Malformed);
}


// ---- the Ethernet/IPv4/TCP fast path decodes and counts exactly as the general path ----

// Every field of the outcome: status, segment (payload as a position in the frame) and counters.
std::string outcome_text(DecodeStatus status, const TcpSegment& seg, const Buf& frame, const DecodeCounters& c) {
  std::string s = std::to_string(static_cast<int>(status));
  if (status == DecodeStatus::Tcp) {
    s += " " + seg.src.to_string() + ":" + std::to_string(seg.src_port) + ">" + seg.dst.to_string() + ":" +
         std::to_string(seg.dst_port) + " seq=" + std::to_string(seg.seq) + " ack=" + std::to_string(seg.ack) +
         " flags=" + std::to_string(seg.flags) + " win=" + std::to_string(seg.window) +
         " payload@" + std::to_string(seg.payload.data() - frame.data()) + "+" + std::to_string(seg.payload.size());
  }
  const std::uint64_t counters[] = {c.packets, c.tcp, c.not_tcp, c.not_ip, c.unsupported_link, c.malformed,
                                    c.ipv4, c.ipv6, c.vlan_tags, c.fragments, c.fragments_reassembled,
                                    c.fragments_dropped, c.fragments_held, c.udp, c.fragments_overlap,
                                    c.fragment_datagrams_expired, c.truncated};
  for (const std::uint64_t n : counters) s += " " + std::to_string(n);
  return s;
}

TEST(DecoderFastPath, AgreesWithTheGeneralPathOnEveryMutationOfEthernetFrames) {
  // Frames around the fast path's edges: plain, with TCP or IP options, VLAN-tagged, DF set,
  // fragments, UDP and ICMP, IPv6, Ethernet padding, an empty payload.
  std::vector<Buf> bases;
  bases.push_back(ethernet(0x0800, view(v4_tcp())));
  TcpSpec opts;
  opts.option_bytes = 12;
  bases.push_back(ethernet(0x0800, view(v4_tcp(opts))));
  Ipv4Spec ipo;
  ipo.option_bytes = 8;
  bases.push_back(ethernet(0x0800, view(ipv4(ipo, view(tcp())))));
  bases.push_back(ethernet(0x0800, view(v4_tcp()), {VlanTag{0x8100, 100}}));
  Ipv4Spec df;
  df.dont_fragment = true;
  bases.push_back(ethernet(0x0800, view(ipv4(df, view(tcp())))));
  Ipv4Spec mf;
  mf.more_fragments = true;
  bases.push_back(ethernet(0x0800, view(ipv4(mf, view(tcp())))));
  Ipv4Spec udp;
  udp.protocol = 17;
  bases.push_back(ethernet(0x0800, view(ipv4(udp, view(tcp())))));
  bases.push_back(ethernet(0x86DD, view(v6_tcp())));
  TcpSpec empty;
  empty.payload = "";
  Buf padded = ethernet(0x0800, view(v4_tcp(empty)));
  padded.resize(padded.size() + 6, 0);  // Ethernet pads short frames to 60 bytes
  bases.push_back(padded);

  // Each base, every truncation, and every byte of the headers set to values that hit the
  // checks (version/IHL nibbles, flag bits, lengths around the bounds).
  std::vector<Buf> frames;
  for (const Buf& b : bases) {
    frames.push_back(b);
    for (std::size_t n = 0; n < b.size(); ++n) frames.emplace_back(b.begin(), b.begin() + static_cast<long>(n));
    for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 70); ++i) {
      for (const int v : {0x00, 0x01, 0x06, 0x08, 0x11, 0x14, 0x20, 0x28, 0x3F, 0x40, 0x44, 0x45, 0x46, 0x4F,
                          0x50, 0x55, 0x80, 0xF0, 0xFF}) {
        Buf m = b;
        m[i] = static_cast<std::uint8_t>(v);
        frames.push_back(std::move(m));
      }
    }
  }
  ASSERT_GT(frames.size(), 10'000u);

  // One decoder of each kind over the whole sequence, so the counters accumulate too.
  PacketDecoder fast;
  PacketDecoder general;
  general.set_fast_path(false);
  std::size_t tcp_frames = 0;
  for (const Buf& f : frames) {
    for (const std::uint32_t link : {kEthernet, kSll}) {
      TcpSegment a;
      TcpSegment b;
      const DecodeStatus sa = fast.decode(link, view(f), Timestamp{1}, a);
      const DecodeStatus sb = general.decode(link, view(f), Timestamp{1}, b);
      ASSERT_EQ(outcome_text(sa, a, f, fast.counters()), outcome_text(sb, b, f, general.counters()))
          << "link " << link << ", frame of " << f.size() << " bytes";
      if (sa == DecodeStatus::Tcp) ++tcp_frames;
    }
  }
  EXPECT_GT(tcp_frames, 1'000u);  // the fast path had plenty to take
}

}  // namespace
}  // namespace rcptwatch::decode
