// Issue 8: the daemon options (workers, pcap tuning, stats interval, user, pid file), every
// option through a -c INI file (repeatable ones and switches included), stats merging across
// workers, and frame routing (symmetric, fragments with their datagram).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "app/options.h"
#include "app/stats_report.h"
#include "app/workers.h"

namespace rcptwatch::app {
namespace {

tl::expected<ParsedCommandLine, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "rcptwatch");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(DaemonOptions, Defaults) {
  auto live = parse({"-i", "eth0"});
  ASSERT_TRUE(live) << live.error();
  EXPECT_EQ(live->options.workers, default_worker_count());
  EXPECT_EQ(live->options.snaplen, 65535);
  EXPECT_TRUE(live->options.immediate);
  EXPECT_TRUE(live->options.promisc);
  auto replay = parse({"-r", "x.pcap"});
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->options.workers, 1u);  // deterministic unless asked
}

TEST(DaemonOptions, SeveralPcapInterfaces) {
  auto p = parse({"-i", "eth0", "-i", "eth1"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->options.interfaces.size(), 2u);
}

TEST(DaemonOptions, BadValuesAreRefused) {
  EXPECT_FALSE(parse({"-i", "eth0", "--workers", "0"}));
  EXPECT_FALSE(parse({"-i", "eth0", "--workers", "1000"}));
  EXPECT_FALSE(parse({"-i", "eth0", "--promisc", "maybe"}));
  EXPECT_FALSE(parse({"-i", "eth0", "--immediate", "sometimes"}));
  EXPECT_FALSE(parse({"-i", "eth0", "--snaplen", "-5"}));
  EXPECT_FALSE(parse({"-r", "x.pcap", "--snaplen", "100"}));  // live pcap only
  EXPECT_FALSE(parse({"-i", "eth0", "--stats-interval", "0"}));
  EXPECT_FALSE(parse({"-i", "eth0", "--user", ""}));
}

// Every option of the sensor, from a config file; the command line still wins.
TEST(DaemonOptions, EveryOptionFromConfigFile) {
  const std::string path = ::testing::TempDir() + "/rcptwatch-all.conf";
  {
    std::ofstream f(path);
    f << "interface = eth1\ninterface = eth2\n"
         "ports = 25,587\nbpf-filter = tcp port 25\ncapture = pcap\nxdp-mode = generic\n"
         "snaplen = 1500\npcap-buffer-mb = 64\nimmediate = off\npromisc = off\n"
         "workers = 3\nstats-interval = 60\nuser = daemon\npidfile = /run/x.pid\n"
         "rules = a.rules\nrules = b.rules\nformat = rfc5424\n"
         "output = stdout\noutput = file:/tmp/alerts.log\n"
         "dedup-window = 30\nrate-limit = 7\nqueue-size = 99\nmax-message-bytes = 4000\n"
         "syslog-facility = 3\nflush-timeout = 2\nlog-envelopes = true\nstats = true\n"
         "home-net = 10.0.0.0/8\njudge-directions = all\nsensor-name = tap1\n"
         "evidence-dir = /tmp/ev\nevidence-max-bytes-per-flow = 1000\nevidence-max-files = 5\n"
         "evidence-max-bytes-held = 100000\nmemory-cap = 1024\nmax-flows = 1000\n"
         "max-buffer-per-direction = 2000\nmax-buffer-total = 3000000\nestablished-timeout = 100\n"
         "syn-timeout = 5\nclosed-timeout = 4\nmax-line = 2048\nmax-fragment-datagrams = 10\n"
         "max-fragment-bytes = 20000\nfragment-timeout = 9\n";
  }
  auto p = parse({"-c", path.c_str(), "--workers", "2"});
  ASSERT_TRUE(p) << p.error();
  const Options& o = p->options;
  EXPECT_EQ(o.interfaces, (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(o.ports, (std::vector<std::uint16_t>{25, 587}));
  EXPECT_EQ(o.bpf_filter, "tcp port 25");
  EXPECT_EQ(o.xdp_mode, capture::XdpMode::Generic);
  EXPECT_EQ(o.snaplen, 1500);
  EXPECT_EQ(o.pcap_buffer_mb, 64);
  EXPECT_FALSE(o.immediate);
  EXPECT_FALSE(o.promisc);
  EXPECT_EQ(o.workers, 2u);  // the command line wins
  EXPECT_EQ(o.stats_interval_s, 60);
  EXPECT_EQ(o.run_user, "daemon");
  EXPECT_EQ(o.pidfile, "/run/x.pid");
  EXPECT_EQ(o.rule_files, (std::vector<std::string>{"a.rules", "b.rules"}));
  EXPECT_EQ(o.format, alert::Format::Rfc5424);
  EXPECT_EQ(o.outputs.size(), 2u);
  EXPECT_EQ(o.dedup.window_usec, 30'000'000);
  EXPECT_EQ(o.dedup.rate_per_minute, 7u);
  EXPECT_EQ(o.queue_size, 99u);
  EXPECT_EQ(o.max_message_bytes, 4000u);
  EXPECT_EQ(o.syslog_facility, 3);
  EXPECT_EQ(o.flush_timeout_ms, 2000);
  EXPECT_TRUE(o.pipeline.log_envelopes);
  EXPECT_TRUE(o.stats);
  EXPECT_FALSE(o.pipeline.home_net.empty());
  EXPECT_EQ(o.pipeline.sensor_name, "tap1");
  EXPECT_EQ(o.pipeline.evidence.dir, "/tmp/ev");
  EXPECT_EQ(o.pipeline.evidence.max_files, 5u);
  EXPECT_EQ(o.pipeline.tracker.max_flows, 1000u);
  EXPECT_EQ(o.pipeline.tracker.max_buffered_bytes_per_direction, 2000u);
  EXPECT_EQ(o.pipeline.tracker.syn_timeout_usec, 5'000'000);
  EXPECT_EQ(o.pipeline.smtp.max_line_bytes, 2048u);
  EXPECT_EQ(o.pipeline.decoder.max_fragment_datagrams, 10u);
  EXPECT_EQ(o.pipeline.decoder.fragment_timeout_usec, 9'000'000);
  std::remove(path.c_str());
}

TEST(DaemonOptions, UnknownConfigKeyIsAnError) {
  const std::string path = ::testing::TempDir() + "/rcptwatch-bad.conf";
  {
    std::ofstream f(path);
    f << "interface = eth1\nworkerz = 3\n";
  }
  auto p = parse({"-c", path.c_str()});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("workerz"), std::string::npos) << p.error();
  std::remove(path.c_str());
}

TEST(StatsMerge, SumsCountersUnitesKeysKeepsSharedMaxima) {
  const std::string a =
      R"({"timestamp":"T1","event_type":"stats","stats":{"tcp":{"flows_created":2},"detect":{"alerts_by_rule":{"1":3}},"dns":{"mx_hosts_learned":4}}})";
  const std::string b =
      R"({"timestamp":"T2","event_type":"stats","stats":{"tcp":{"flows_created":5},"detect":{"alerts_by_rule":{"1":1,"9":2}},"dns":{"mx_hosts_learned":4}}})";
  const std::string merged = merge_stats_events({a, b});
  EXPECT_EQ(merged,
            R"({"timestamp":"T1","event_type":"stats","stats":{"tcp":{"flows_created":7},"detect":{"alerts_by_rule":{"1":4,"9":2}},"dns":{"mx_hosts_learned":4}}})");
  const std::string line = stats_log_line(merged);
  EXPECT_NE(line.find("flows_created=7"), std::string::npos) << line;
  EXPECT_NE(line.find("by_rule={1:4,9:2}"), std::string::npos) << line;
}

// IPv4 over Ethernet, TCP, a -> b.
std::vector<std::uint8_t> frame(std::uint8_t a, std::uint8_t b, std::uint16_t frag) {
  std::vector<std::uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[14 + 3] = 40;
  f[14 + 6] = static_cast<std::uint8_t>(frag >> 8);
  f[14 + 7] = static_cast<std::uint8_t>(frag);
  f[14 + 9] = 6;
  f[14 + 12] = 10;
  f[14 + 15] = a;
  f[14 + 16] = 10;
  f[14 + 19] = b;
  return f;
}

TEST(FrameRoute, SymmetricAndFragmentsFollowTheirPair) {
  const auto ab = frame(1, 2, 0);
  const auto ba = frame(2, 1, 0);
  const auto frag = frame(1, 2, 0x00B9);  // a non-first fragment: no ports, same pair
  const FrameRoute r1 = route_frame(1, Bytes(ab.data(), ab.size()));
  const FrameRoute r2 = route_frame(1, Bytes(ba.data(), ba.size()));
  const FrameRoute r3 = route_frame(1, Bytes(frag.data(), frag.size()));
  ASSERT_TRUE(r1.has_ip);
  EXPECT_EQ(r1.hash, r2.hash);
  EXPECT_EQ(r1.hash, r3.hash);
  const auto other = frame(1, 3, 0);
  EXPECT_NE(route_frame(1, Bytes(other.data(), other.size())).hash, r1.hash);
  EXPECT_FALSE(route_frame(1, Bytes(ab.data(), 10)).has_ip);  // truncated: worker 0
}

TEST(FrameRoute, PortsOnlyOfUnfragmentedTcpAndUdp) {
  auto with_ports = [](std::vector<std::uint8_t> f, std::uint8_t proto, std::uint16_t sport, std::uint16_t dport) {
    f[14 + 9] = proto;
    f[34] = static_cast<std::uint8_t>(sport >> 8);
    f[35] = static_cast<std::uint8_t>(sport);
    f[36] = static_cast<std::uint8_t>(dport >> 8);
    f[37] = static_cast<std::uint8_t>(dport);
    return f;
  };
  const auto tcp = with_ports(frame(1, 2, 0), 6, 40000, 25);
  const FrameRoute t = route_frame(1, Bytes(tcp.data(), tcp.size()));
  EXPECT_EQ(t.l4, 6);
  EXPECT_EQ(t.src_port, 40000);
  EXPECT_EQ(t.dst_port, 25);
  const auto udp = with_ports(frame(1, 2, 0), 17, 5000, 4789);
  EXPECT_EQ(route_frame(1, Bytes(udp.data(), udp.size())).l4, 17);
  const auto first_fragment = with_ports(frame(1, 2, 0x2000), 6, 40000, 25);  // MF set
  EXPECT_EQ(route_frame(1, Bytes(first_fragment.data(), first_fragment.size())).l4, 0);
  const auto icmp = with_ports(frame(1, 2, 0), 1, 0, 0);
  EXPECT_EQ(route_frame(1, Bytes(icmp.data(), icmp.size())).l4, 0);
  EXPECT_EQ(route_frame(1, Bytes(tcp.data(), 14 + 20 + 3)).l4, 0);  // ports cut off
}

}  // namespace
}  // namespace rcptwatch::app
