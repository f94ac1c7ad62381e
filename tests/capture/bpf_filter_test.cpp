// The in-kernel SMTP filter (bpf/capture.bpf.c) run with BPF_PROG_TEST_RUN on crafted frames:
// the verdict, the ring buffer record read back through BpfSource, and the per-CPU counters.
// Skips only when the kernel refuses BPF (no bpf(), no privilege).
#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cstdint>
#include <vector>

#include "capture.h"
#include "capture/bpf_source.h"

namespace rcptwatch::capture {
namespace {

using Frame = std::vector<std::uint8_t>;

void put16(Frame& f, std::uint16_t v) {
  f.push_back(static_cast<std::uint8_t>(v >> 8));
  f.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void append(Frame& f, std::initializer_list<int> bytes) {
  for (int b : bytes) f.push_back(static_cast<std::uint8_t>(b));
}

Frame ethernet(std::uint16_t type) {
  Frame f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  put16(f, type);
  return f;
}

void vlan_tag(Frame& f, std::uint16_t tci, std::uint16_t inner_type) {
  put16(f, tci);
  put16(f, inner_type);
}

// IPv4 header (no options unless ihl says so); frag = flags+offset field.
void ipv4(Frame& f, std::uint8_t protocol, std::uint16_t payload, std::uint16_t frag = 0,
          std::uint8_t ihl = 5) {
  f.push_back(static_cast<std::uint8_t>(0x40 | ihl));
  f.push_back(0);
  put16(f, static_cast<std::uint16_t>(20 + payload));
  put16(f, 0x1234);
  put16(f, frag);
  f.push_back(64);
  f.push_back(protocol);
  put16(f, 0);
  append(f, {10, 0, 0, 1, 10, 0, 0, 2});
}

void ipv6(Frame& f, std::uint8_t next, std::uint16_t payload) {
  append(f, {0x60, 0, 0, 0});
  put16(f, payload);
  f.push_back(next);
  f.push_back(64);
  for (int i = 0; i < 32; ++i) f.push_back(static_cast<std::uint8_t>(i == 15 || i == 31 ? i : 0xfd));
}

void tcp(Frame& f, std::uint16_t sport, std::uint16_t dport, std::size_t payload = 0) {
  put16(f, sport);
  put16(f, dport);
  for (int i = 0; i < 8; ++i) f.push_back(0);
  f.push_back(0x50);
  f.push_back(0x18);
  put16(f, 0xffff);
  put16(f, 0);
  put16(f, 0);
  for (std::size_t i = 0; i < payload; ++i) f.push_back(static_cast<std::uint8_t>('a' + i % 26));
}

Frame ipv4_tcp(std::uint16_t sport, std::uint16_t dport, std::size_t payload = 16) {
  Frame f = ethernet(0x0800);
  ipv4(f, 6, static_cast<std::uint16_t>(20 + payload));
  tcp(f, sport, dport, payload);
  return f;
}

class BpfFilterTest : public ::testing::Test {
 protected:
  void load(bool xdp_drop = false) {
    BpfOptions options;
    options.ports = {25, 587};
    options.xdp_drop = xdp_drop;
    options.poll_timeout_ms = 20;
    options.ring_bytes = 1u << 20;
    auto loaded = BpfSource::load_only(options);
    if (!loaded) {
      const std::string& e = loaded.error();
      // Only a kernel that refuses BPF is a skip; a verifier rejection is a failure.
      if (e.find("no BPF support") != std::string::npos ||
          e.find("capabilities") != std::string::npos ||
          e.find("refused to load") != std::string::npos) {
        GTEST_SKIP() << "kernel refuses BPF here: " << e;
      }
      FAIL() << e;
    }
    source_ = std::move(*loaded);
  }

  // Runs one program once on the frame; returns its verdict.
  std::uint32_t run(BpfProgram program, const Frame& frame) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<__u32>(frame.size()), .repeat = 1);
    const int rc = bpf_prog_test_run_opts(source_->program_fd(program), &opts);
    EXPECT_EQ(rc, 0) << "BPF_PROG_TEST_RUN failed";
    return opts.retval;
  }

  // The next ring buffer record, which must be exactly `frame`.
  void expect_record(const Frame& frame, std::uint8_t direction) {
    Packet packet;
    ASSERT_EQ(source_->next(packet), NextStatus::Packet) << "no ring buffer record";
    EXPECT_EQ(packet.link_type, 1u);
    EXPECT_EQ(packet.wire_length, frame.size());
    ASSERT_EQ(packet.data.size(), frame.size());
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), packet.data.begin()));
    EXPECT_EQ(source_->last_record().direction, direction);
    EXPECT_FALSE(source_->last_record().truncated);
    EXPECT_GT(packet.ts.usec, 1'600'000'000'000'000) << "not wall-clock time";
  }

  void expect_no_record() {
    Packet packet;
    EXPECT_EQ(source_->next(packet), NextStatus::Timeout) << "unexpected record";
  }

  std::unique_ptr<BpfSource> source_;
};

TEST_F(BpfFilterTest, KeepsIpv4SmtpEitherDirection) {
  load();
  if (!source_) return;
  const Frame to_server = ipv4_tcp(40000, 25);
  const Frame from_server = ipv4_tcp(587, 40000);
  EXPECT_EQ(run(BpfProgram::Xdp, to_server), static_cast<std::uint32_t>(XDP_PASS));
  expect_record(to_server, RW_DIR_XDP);
  EXPECT_EQ(run(BpfProgram::Xdp, from_server), static_cast<std::uint32_t>(XDP_PASS));
  expect_record(from_server, RW_DIR_XDP);
  const BpfCounters c = source_->counters();
  EXPECT_EQ(c.seen, 2u);
  EXPECT_EQ(c.matched, 2u);
  EXPECT_EQ(c.ringbuf_full, 0u);
}

TEST_F(BpfFilterTest, SkipsOtherPortsAndProtocols) {
  load();
  if (!source_) return;
  Frame udp = ethernet(0x0800);
  ipv4(udp, 17, 8);
  for (int i = 0; i < 8; ++i) udp.push_back(0);
  Frame arp = ethernet(0x0806);
  arp.resize(42, 0);
  for (const Frame& f : {ipv4_tcp(40000, 80), ipv4_tcp(443, 40000), udp, arp}) {
    EXPECT_EQ(run(BpfProgram::Xdp, f), static_cast<std::uint32_t>(XDP_PASS));
  }
  expect_no_record();
  const BpfCounters c = source_->counters();
  EXPECT_EQ(c.seen, 4u);
  EXPECT_EQ(c.matched, 0u);
  EXPECT_EQ(c.malformed, 0u);
}

TEST_F(BpfFilterTest, XdpDropDropsOnlyWhatItDoesNotKeep) {
  load(/*xdp_drop=*/true);
  if (!source_) return;
  EXPECT_EQ(run(BpfProgram::Xdp, ipv4_tcp(40000, 80)), static_cast<std::uint32_t>(XDP_DROP));
  const Frame smtp = ipv4_tcp(40000, 25);
  EXPECT_EQ(run(BpfProgram::Xdp, smtp), static_cast<std::uint32_t>(XDP_PASS));
  expect_record(smtp, RW_DIR_XDP);
}

TEST_F(BpfFilterTest, KeepsIpv6SmtpAfterExtensionHeaders) {
  load();
  if (!source_) return;
  Frame plain = ethernet(0x86dd);
  ipv6(plain, 6, 36);
  tcp(plain, 40000, 587, 16);
  Frame with_hop_by_hop = ethernet(0x86dd);
  ipv6(with_hop_by_hop, 0, 44);
  append(with_hop_by_hop, {6, 0, 1, 4, 0, 0, 0, 0});  // next TCP, PadN
  tcp(with_hop_by_hop, 25, 40000, 16);
  Frame other = ethernet(0x86dd);
  ipv6(other, 6, 36);
  tcp(other, 40000, 993, 16);
  EXPECT_EQ(run(BpfProgram::Xdp, plain), static_cast<std::uint32_t>(XDP_PASS));
  expect_record(plain, RW_DIR_XDP);
  run(BpfProgram::Xdp, with_hop_by_hop);
  expect_record(with_hop_by_hop, RW_DIR_XDP);
  run(BpfProgram::Xdp, other);
  expect_no_record();
}

TEST_F(BpfFilterTest, KeepsVlanAndQinQTaggedSmtp) {
  load();
  if (!source_) return;
  Frame dot1q = ethernet(0x8100);
  vlan_tag(dot1q, 100, 0x0800);
  ipv4(dot1q, 6, 36);
  tcp(dot1q, 40000, 25, 16);
  Frame qinq = ethernet(0x88a8);
  vlan_tag(qinq, 200, 0x8100);
  vlan_tag(qinq, 100, 0x86dd);
  ipv6(qinq, 6, 36);
  tcp(qinq, 40000, 587, 16);
  Frame tagged_http = ethernet(0x8100);
  vlan_tag(tagged_http, 100, 0x0800);
  ipv4(tagged_http, 6, 36);
  tcp(tagged_http, 40000, 80, 16);
  run(BpfProgram::Xdp, dot1q);
  expect_record(dot1q, RW_DIR_XDP);
  run(BpfProgram::Xdp, qinq);
  expect_record(qinq, RW_DIR_XDP);
  run(BpfProgram::Xdp, tagged_http);
  expect_no_record();
}

TEST_F(BpfFilterTest, PassesUpEveryIpFragment) {
  load();
  if (!source_) return;
  Frame v4_later = ethernet(0x0800);  // offset 185*8, no TCP header in this fragment
  ipv4(v4_later, 6, 24, 185);
  v4_later.resize(v4_later.size() + 24, 0x41);
  Frame v4_first = ethernet(0x0800);  // MF set: ports judged after reassembly
  ipv4(v4_first, 6, 24, 0x2000);
  tcp(v4_first, 40000, 80, 4);
  Frame v6_frag = ethernet(0x86dd);
  ipv6(v6_frag, 44, 32);
  append(v6_frag, {6, 0, 0, 8, 0, 0, 0, 1});
  v6_frag.resize(v6_frag.size() + 24, 0x42);
  for (const Frame* f : {&v4_later, &v4_first, &v6_frag}) {
    run(BpfProgram::Xdp, *f);
    expect_record(*f, RW_DIR_XDP);
  }
  EXPECT_EQ(source_->counters().matched, 3u);
}

TEST_F(BpfFilterTest, CountsTruncatedAndMalformedHeaders) {
  load();
  if (!source_) return;
  Frame cut_ip = ethernet(0x0800);
  ipv4(cut_ip, 6, 20);
  cut_ip.resize(14 + 12);  // IPv4 header cut short
  Frame cut_tcp = ethernet(0x0800);
  ipv4(cut_tcp, 6, 20);
  cut_tcp.push_back(0);  // one byte of TCP: no ports
  Frame bad_ihl = ipv4_tcp(40000, 25);
  bad_ihl[14] = 0x43;  // IHL 3 words
  Frame bad_version = ipv4_tcp(40000, 25);
  bad_version[14] = 0x65;
  Frame cut_vlan = ethernet(0x8100);
  cut_vlan.resize(16, 0);  // tag cut short (and padded ARP-size frames are fine elsewhere)
  for (const Frame* f : {&cut_ip, &cut_tcp, &bad_ihl, &bad_version, &cut_vlan}) {
    EXPECT_EQ(run(BpfProgram::Xdp, *f), static_cast<std::uint32_t>(XDP_PASS));
  }
  expect_no_record();
  const BpfCounters c = source_->counters();
  EXPECT_EQ(c.seen, 5u);
  EXPECT_EQ(c.matched, 0u);
  EXPECT_EQ(c.malformed, 5u);
}

TEST_F(BpfFilterTest, TcProgramsObserveWithoutAVerdict) {
  load();
  if (!source_) return;
  const Frame smtp = ipv4_tcp(40000, 25, 100);
  const Frame http = ipv4_tcp(40000, 80, 100);
  const auto unspec = static_cast<std::uint32_t>(TC_ACT_UNSPEC);
  EXPECT_EQ(run(BpfProgram::TcIngress, smtp), unspec);
  expect_record(smtp, RW_DIR_TC_INGRESS);
  EXPECT_EQ(run(BpfProgram::TcEgress, smtp), unspec);
  expect_record(smtp, RW_DIR_TC_EGRESS);
  EXPECT_EQ(run(BpfProgram::TcEgress, http), unspec);
  expect_no_record();
}

TEST_F(BpfFilterTest, LargerFramesGetLargerRecordsWhole) {
  load();
  if (!source_) return;
  // Across the 256- and 2048-byte record classes; BPF_PROG_TEST_RUN caps input near a page.
  for (std::size_t payload : {200u, 1400u, 3000u}) {
    const Frame f = ipv4_tcp(40000, 25, payload);
    run(BpfProgram::TcIngress, f);
    expect_record(f, RW_DIR_TC_INGRESS);
  }
  EXPECT_EQ(source_->counters().truncated, 0u);
}

}  // namespace
}  // namespace rcptwatch::capture
