// Option definitions, help text, and validation of the command line and config file.
#include "app/options.h"
#include "app/workers.h"

#include <boost/program_options.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

namespace po = boost::program_options;

namespace rcptwatch::app {
namespace {

constexpr const char* kUsage =
    "Usage: rcptwatch [OPTIONS] (-r FILE | -i IFACE)\n"
    "       rcptwatch rules check|explain|variants ...   (tune rules; see 'rcptwatch rules --help')\n"
    "       rcptwatch state show|export|forget ...       (what --learn learned; 'rcptwatch state --help')\n"
    "\n"
    "Passive sensor: rebuilds SMTP sessions from packets, reads every RCPT TO, and raises an\n"
    "alert when a recipient's domain is a lookalike of a protected domain (army.ml for .mil,\n"
    "nat0.int for nato.int). Alerts go to stdout as JSON lines; logs go to stderr.\n"
    "\n"
    "Examples:\n"
    "  rcptwatch -r pcaps/demo.pcap                  replay a capture with the built-in rules\n"
    "  rcptwatch -r capture.pcapng --rules my.rules  replay with your own rule file(s)\n"
    "  tcpdump -w - port 25 | rcptwatch -r -         read a capture from stdin\n"
    "  rcptwatch -i eth1 --ports 25,587              watch a tap interface live (needs root)\n"
    "  rcptwatch --capture xdp -i eth1 -i eth2       eBPF capture, SMTP filtered in the kernel\n"
    "\n"
    "Exit status: 0 success; 1 input could not be read completely (alerts found before the\n"
    "damage are still printed); 2 bad options, config file or rule file.\n";

void add_int_option(po::options_description& d, const char* name, const char* help) {
  d.add_options()(name, po::value<std::int64_t>(), help);
}

template <typename T>
tl::expected<void, std::string> take_positive(const po::variables_map& vm, const char* name,
                                              T& target) {
  if (!vm.count(name)) return {};
  const std::int64_t v = vm[name].as<std::int64_t>();
  if (v <= 0) return tl::unexpected(std::string("--") + name + ": must be a positive number");
  target = static_cast<T>(v);
  return {};
}

// --home-net, --judge-directions, --sensor-name, --evidence-*, and in_iface (issue 12).
tl::expected<void, std::string> apply_fleet_options(const po::variables_map& vm, Options& o) {
  PipelineConfig& p = o.pipeline;
  if (vm.count("home-net")) {
    auto home = CidrSet::parse(vm["home-net"].as<std::string>());
    if (!home) return tl::unexpected("--home-net: " + home.error());
    p.home_net = std::move(*home);
  }
  if (vm.count("judge-directions")) {
    auto dirs = fleet::parse_direction_list(vm["judge-directions"].as<std::string>());
    if (!dirs) return tl::unexpected("--judge-directions: " + dirs.error());
    if (p.home_net.empty()) {
      return tl::unexpected(std::string("--judge-directions needs --home-net (without it every "
                                        "direction is unknown and all are judged)"));
    }
    p.judge_directions = *dirs;
  }
  if (vm.count("sensor-name")) {
    p.sensor_name = vm["sensor-name"].as<std::string>();
    if (p.sensor_name.empty()) return tl::unexpected(std::string("--sensor-name: must not be empty"));
  } else {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) p.sensor_name = host;
  }
  if (!o.read_file.empty()) {
    // The file name without its directory: the same in every checkout and on every sensor.
    const auto slash = o.read_file.rfind('/');
    p.in_iface = o.read_file == "-" ? std::string("stdin")
                                    : o.read_file.substr(slash == std::string::npos ? 0 : slash + 1);
  } else {
    for (const std::string& i : o.interfaces) p.in_iface += (p.in_iface.empty() ? "" : ",") + i;
  }
  if (vm.count("evidence-dir")) {
    p.evidence.dir = vm["evidence-dir"].as<std::string>();
    if (p.evidence.dir.empty()) return tl::unexpected(std::string("--evidence-dir: empty path"));
  }
  for (auto r : {take_positive(vm, "evidence-max-bytes-per-flow", p.evidence.max_bytes_per_flow),
                 take_positive(vm, "evidence-max-files", p.evidence.max_files),
                 take_positive(vm, "evidence-max-bytes-held", p.evidence.max_bytes_held)}) {
    if (!r) return tl::unexpected(r.error());
  }
  return {};
}

// --learn, --state-dir and the --learn-* thresholds (issue 11).
tl::expected<void, std::string> apply_learn_options(const po::variables_map& vm, Options& o) {
  learn::LearnConfig& c = o.learn_config;
  o.learn = vm["learn"].as<bool>();
  if (vm.count("state-dir")) {
    c.state_dir = vm["state-dir"].as<std::string>();
    if (c.state_dir.empty()) return tl::unexpected(std::string("--state-dir: empty path"));
  }
  std::int64_t flush_s = 0;
  for (auto r : {take_positive(vm, "learn-min-messages", c.min_messages),
                 take_positive(vm, "learn-min-senders", c.min_senders),
                 take_positive(vm, "learn-max-domains", c.max_domains),
                 take_positive(vm, "learn-flush-interval", flush_s)}) {
    if (!r) return tl::unexpected(r.error());
  }
  if (c.min_senders > learn::kMaxSendersPerDomain) {
    return tl::unexpected("--learn-min-senders: at most " + std::to_string(learn::kMaxSendersPerDomain) +
                          " (distinct senders are counted up to that many per domain)");
  }
  if (c.max_domains > 1'000'000) return tl::unexpected(std::string("--learn-max-domains: at most 1000000"));
  if (flush_s > 0) c.flush_interval_usec = flush_s * 1'000'000;
  o.pipeline.learn = o.learn;
  o.pipeline.learn_max_domains = c.max_domains;
  return {};
}

tl::expected<bool, std::string> parse_on_off(const po::variables_map& vm, const char* name) {
  const std::string v = vm[name].as<std::string>();
  if (v == "on" || v == "yes" || v == "true" || v == "1") return true;
  if (v == "off" || v == "no" || v == "false" || v == "0") return false;
  return tl::unexpected(std::string("--") + name + ": '" + v + "' is not on or off");
}

// --workers, --snaplen, --pcap-buffer-mb, --immediate, --promisc, --stats-interval, --user,
// --pidfile, and the interface count (issue 8).
tl::expected<void, std::string> apply_daemon_options(const po::variables_map& vm, Options& o) {
  constexpr std::size_t kMaxInterfaces = 64;  // MultiSource polls at most this many
  if (o.interfaces.size() > kMaxInterfaces) {
    return tl::unexpected("-i: at most " + std::to_string(kMaxInterfaces) + " interfaces");
  }
  auto immediate = parse_on_off(vm, "immediate");
  if (!immediate) return tl::unexpected(immediate.error());
  o.immediate = *immediate;
  auto promisc = parse_on_off(vm, "promisc");
  if (!promisc) return tl::unexpected(promisc.error());
  o.promisc = *promisc;
  std::int64_t workers = 0;
  for (auto r : {take_positive(vm, "workers", workers), take_positive(vm, "snaplen", o.snaplen),
                 take_positive(vm, "pcap-buffer-mb", o.pcap_buffer_mb),
                 take_positive(vm, "stats-interval", o.stats_interval_s)}) {
    if (!r) return tl::unexpected(r.error());
  }
  if (workers > 256) return tl::unexpected(std::string("--workers: at most 256"));
  if (o.snaplen > 262144) return tl::unexpected(std::string("--snaplen: at most 262144"));
  if (o.pcap_buffer_mb > 2047) return tl::unexpected(std::string("--pcap-buffer-mb: at most 2047"));
  o.workers = workers > 0                ? static_cast<unsigned>(workers)
              : !o.read_file.empty()     ? 1u
                                         : default_worker_count();
  if (vm.count("user")) {
    o.run_user = vm["user"].as<std::string>();
    if (o.run_user.empty()) return tl::unexpected(std::string("--user: empty name"));
  }
  if (vm.count("pidfile")) {
    o.pidfile = vm["pidfile"].as<std::string>();
    if (o.pidfile.empty()) return tl::unexpected(std::string("--pidfile: empty path"));
  }
  if (o.capture != Options::Capture::Pcap || !o.read_file.empty()) {
    for (const char* pcap_only : {"snaplen", "pcap-buffer-mb"}) {
      if (vm.count(pcap_only)) {
        return tl::unexpected(std::string("--") + pcap_only + " applies to live capture with --capture pcap");
      }
    }
  }
  return {};
}

}  // namespace

tl::expected<std::vector<std::uint16_t>, std::string> parse_port_list(const std::string& text) {
  std::vector<std::uint16_t> ports;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    unsigned value = 0;
    const char* first = item.data();
    const char* last = item.data() + item.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (item.empty() || ec != std::errc() || ptr != last || value == 0 || value > 65535) {
      return tl::unexpected("--ports: '" + item + "' is not a port number (1-65535)");
    }
    ports.push_back(static_cast<std::uint16_t>(value));
  }
  if (ports.empty()) return tl::unexpected(std::string("--ports: empty list"));
  return ports;
}

tl::expected<ParsedCommandLine, std::string> parse_command_line(int argc,
                                                                const char* const* argv) {
  po::options_description general("General");
  general.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("config,c", po::value<std::string>(),
       "read options from an INI file (key = value, same names as the long options);\n"
       "options on the command line win")
      ("verbose,v", "more log detail on stderr (-v info, -vv debug)");

  po::options_description input("Input");
  input.add_options()
      ("read,r", po::value<std::string>(),
       "replay a capture file (pcap or pcapng); '-' reads standard input")
      ("interface,i", po::value<std::vector<std::string>>()->composing(),
       "capture live from this interface (repeatable)")
      ("ports", po::value<std::string>()->default_value("25,587,2525"),
       "comma-separated TCP ports that carry SMTP")
      ("bpf-filter", po::value<std::string>(),
       "live capture filter (default: tcp and the SMTP ports, plus IP fragments)")
      ("capture", po::value<std::string>()->default_value("pcap"),
       "live capture back-end: pcap (libpcap, one or more -i) | xdp (eBPF at XDP, ingress) |\n"
       "tc (eBPF at TC clsact, ingress and egress); xdp and tc filter SMTP in the kernel\n"
       "and accept several -i")
      ("xdp-mode", po::value<std::string>()->default_value("auto"),
       "with --capture xdp: native | generic | auto (native where the driver supports it)")
      ("xdp-drop", po::bool_switch(),
       "with --capture xdp: drop every packet the filter does not keep (tap interfaces only)")
      ("snaplen", po::value<std::int64_t>(), "--capture pcap: bytes kept per frame (default 65535)")
      ("pcap-buffer-mb", po::value<std::int64_t>(),
       "--capture pcap: kernel capture buffer per interface in MiB (default: libpcap's, 2)")
      ("immediate", po::value<std::string>()->default_value("on"),
       "--capture pcap: on = each frame delivered at once (low latency); off = the kernel "
       "batches frames (fewer wake-ups on a busy link)")
      ("promisc", po::value<std::string>()->default_value("on"),
       "--capture pcap: on | off: promiscuous mode (a tap or SPAN port needs on)");

  po::options_description daemon_opts("Daemon");
  daemon_opts.add_options()
      ("workers", po::value<std::int64_t>(),
       "worker threads; connections are shared out by a symmetric hash of the address pair "
       "(default: cores - 1, at least 1, for live capture, beside the capture thread; 1 for -r, "
       "which is then deterministic; with -r the reading thread is the first worker)")
      ("stats-interval", po::value<std::int64_t>(),
       "seconds between stats events (and a one-line stats log); live: wall clock, -r: "
       "packet time (default 0: off)")
      ("user", po::value<std::string>(),
       "user to become once the capture is open (default for -i: rcptwatch if it exists, "
       "else nobody; -r drops only when given); no capabilities are kept")
      ("pidfile", po::value<std::string>(), "write the process id to this file (removed at exit)");

  po::options_description detection("Detection and output");
  detection.add_options()
      ("rules", po::value<std::vector<std::string>>()->composing(),
       "rule file (repeatable); default: the built-in rules/default.rules")
      ("format", po::value<std::string>()->default_value("json"),
       "alert format: json, rfc5424, rfc3164, cef, leef (default for every --output)")
      ("output,o", po::value<std::vector<std::string>>()->composing(),
       "where alerts go (repeatable; default stdout):\n"
       "  stdout | file:PATH | syslog+udp://HOST:PORT |\n"
       "  syslog+tcp://HOST:PORT (RFC 6587 octet counting) |\n"
       "  syslog+unix:///dev/log |\n"
       "  kafka://BROKER:PORT[,BROKER:PORT...]/TOPIC (JSON keyed by flow id)\n"
       "append ?format=NAME to give one output its own format;\n"
       "HOST may be IPv4, [IPv6] or a name")
      ("dedup-window", po::value<std::int64_t>(),
       "seconds in which the same (sender, recipient, rule) alerts once, with a repeat count; "
       "0 turns it off (default 600)")
      ("rate-limit", po::value<std::int64_t>(), "alerts per rule per minute; 0 = unlimited (default 0)")
      ("queue-size", po::value<std::int64_t>(),
       "alerts queued per output (default 10000); live capture drops the oldest when full, "
       "a replay waits")
      ("max-message-bytes", po::value<std::int64_t>(),
       "largest message sent to a collector; longer fields are cut with a mark (default 8192)")
      ("syslog-facility", po::value<std::int64_t>(), "syslog facility number 0-23 (default 16, local0)")
      ("flush-timeout", po::value<std::int64_t>(), "seconds to deliver queued alerts at exit (default 5)")
      ("log-envelopes", po::bool_switch(),
       "also write one JSON `smtp` event per completed transaction: every recipient with "
       "its reply code, tls flag and capture quality")
      ("stats", po::bool_switch(), "write a JSON stats event to the outputs at exit (SIGUSR1: now)");

  po::options_description fleet_opts("Fleet: direction, identity, evidence");
  fleet_opts.add_options()
      ("home-net", po::value<std::string>(),
       "comma-separated home networks (CIDR, IPv4/IPv6), like Suricata's HOME_NET; every event "
       "gets network.direction (outbound, inbound, internal, external); without it the "
       "direction is unknown and everything is judged")
      ("judge-directions", po::value<std::string>(),
       "with --home-net: directions whose recipients are judged (default outbound,internal; "
       "also inbound, external, all); others are counted as recipients_skipped_direction")
      ("sensor-name", po::value<std::string>(), "name in every event's sensor_name (default: host name)")
      ("evidence-dir", po::value<std::string>(),
       "write the packets of each alerting connection to DIR/<flow_id>-<first_seen_usec>.pcap; "
       "the alert names the file in \"evidence\"");
  add_int_option(fleet_opts, "evidence-max-bytes-per-flow",
                 "bytes of frames kept per connection for evidence (default 1048576)");
  add_int_option(fleet_opts, "evidence-max-files",
                 "evidence pcaps kept in --evidence-dir, the oldest removed first (default 1000)");
  add_int_option(fleet_opts, "evidence-max-bytes-held",
                 "bytes held in all for connections that have not alerted yet (default 67108864)");

  po::options_description learn_opts("Learned protection");
  learn_opts.add_options()
      ("learn", po::bool_switch(),
       "protect established correspondents automatically: recipient domains with enough "
       "messages from enough distinct senders become protected, and a recipient domain that "
       "is not one of them but a lookalike of one alerts (lookalike.learned = true)")
      ("state-dir", po::value<std::string>(),
       "where --learn keeps its store, DIR/correspondents.sqlite (created if missing; "
       "default /var/lib/rcptwatch); see 'rcptwatch state'");
  add_int_option(learn_opts, "learn-min-messages",
                 "messages (transactions with an accepted recipient there) before a domain is "
                 "established (default 5)");
  add_int_option(learn_opts, "learn-min-senders",
                 "distinct senders before a domain is established (default 2, at most 64)");
  add_int_option(learn_opts, "learn-max-domains",
                 "domains the store keeps; beyond it the least recently seen go, established "
                 "ones last (default 10000)");
  add_int_option(learn_opts, "learn-flush-interval",
                 "seconds of packet time between writes to the store and promotions (default 60; "
                 "also at exit)");

  po::options_description limits("Limits (all counted in the stats when hit)");
  add_int_option(limits, "memory-cap",
                 "MiB of memory the sensor plans for (default 512): unless given, --max-buffer-total is "
                 "a quarter of it and --max-flows what the rest holds (137625 at 512)");
  add_int_option(limits, "max-flows", "connections tracked at once (default: from --memory-cap)");
  add_int_option(limits, "max-buffer-per-direction",
                 "out-of-order bytes held per direction (default 1048576)");
  add_int_option(limits, "max-buffer-total", "out-of-order bytes held in all (default: a quarter of --memory-cap)");
  add_int_option(limits, "established-timeout", "idle seconds before a connection is dropped (default 600)");
  add_int_option(limits, "syn-timeout", "idle seconds before a half-open connection is dropped (default 30)");
  add_int_option(limits, "closed-timeout", "seconds a closed connection is remembered (default 10)");
  add_int_option(limits, "max-line", "longest SMTP line kept, in bytes (default 4096)");
  add_int_option(limits, "max-fragment-datagrams", "IP datagrams under reassembly at once (default 4096)");
  add_int_option(limits, "max-fragment-bytes", "bytes held for IP reassembly in all (default 16777216)");
  add_int_option(limits, "fragment-timeout", "seconds an incomplete IP datagram is kept (default 30)");

  po::options_description all;
  all.add(general).add(input).add(daemon_opts).add(detection).add(fleet_opts).add(learn_opts).add(limits);

  ParsedCommandLine result;

  // Boost counts a repeated flag as an error, so -v, -vv and --verbose are counted here and
  // not passed on.
  int verbosity = 0;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--verbose") {
      ++verbosity;
    } else if (a.size() >= 2 && a[0] == '-' && a[1] == 'v' &&
               a.find_first_not_of('v', 1) == std::string_view::npos) {
      verbosity += static_cast<int>(a.size() - 1);
    } else {
      args.emplace_back(a);
    }
  }

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) return tl::unexpected(path + ": cannot open config file");
      try {
        po::store(po::parse_config_file(file, all), vm);
      } catch (const po::error& e) {
        return tl::unexpected(path + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return tl::unexpected(std::string(e.what()) + " (see --help)");
  }

  if (vm.count("help")) {
    // Formatted only when asked for: boost's line wrapping of ~90 options costs about 1.8M
    // instructions, 9% of the start-up of every run.
    std::ostringstream help;
    help << kUsage << "\n" << all;
    result.help_text = help.str();
    result.action = ParsedCommandLine::Action::Help;
    return result;
  }
  if (vm.count("version")) {
    result.action = ParsedCommandLine::Action::Version;
    return result;
  }

  Options& o = result.options;
  o.verbosity = verbosity;
  if (vm.count("read")) o.read_file = vm["read"].as<std::string>();
  if (vm.count("interface")) o.interfaces = vm["interface"].as<std::vector<std::string>>();
  if (vm.count("rules")) o.rule_files = vm["rules"].as<std::vector<std::string>>();
  o.stats = vm["stats"].as<bool>();
  o.pipeline.log_envelopes = vm["log-envelopes"].as<bool>();
  if (vm.count("bpf-filter")) o.bpf_filter = vm["bpf-filter"].as<std::string>();

  auto format = alert::parse_format(vm["format"].as<std::string>());
  if (!format) return tl::unexpected("--format: " + format.error());
  o.format = *format;
  if (vm.count("output")) {
    for (const std::string& uri : vm["output"].as<std::vector<std::string>>()) {
      auto spec = alert::parse_output_spec(uri, o.format);
      if (!spec) return tl::unexpected("--output: " + spec.error());
      o.outputs.push_back(*spec);
    }
  }

  auto ports = parse_port_list(vm["ports"].as<std::string>());
  if (!ports) return tl::unexpected(ports.error());
  o.ports = *ports;
  o.pipeline.tracker.server_ports = o.ports;

  if (o.read_file.empty() && o.interfaces.empty()) {
    return tl::unexpected(std::string("nothing to do: give -r FILE or -i IFACE (see --help)"));
  }
  if (!o.read_file.empty() && !o.interfaces.empty()) {
    return tl::unexpected(std::string("-r and -i are exclusive"));
  }
  const std::string capture_mode = vm["capture"].as<std::string>();
  if (capture_mode == "pcap") {
    o.capture = Options::Capture::Pcap;
  } else if (capture_mode == "xdp") {
    o.capture = Options::Capture::Xdp;
  } else if (capture_mode == "tc") {
    o.capture = Options::Capture::Tc;
  } else {
    return tl::unexpected("--capture: '" + capture_mode + "' is not pcap, xdp or tc");
  }
  const std::string xdp_mode = vm["xdp-mode"].as<std::string>();
  if (xdp_mode == "auto") {
    o.xdp_mode = capture::XdpMode::Auto;
  } else if (xdp_mode == "native") {
    o.xdp_mode = capture::XdpMode::Native;
  } else if (xdp_mode == "generic") {
    o.xdp_mode = capture::XdpMode::Generic;
  } else {
    return tl::unexpected("--xdp-mode: '" + xdp_mode + "' is not native, generic or auto");
  }
  o.xdp_drop = vm["xdp-drop"].as<bool>();
  if (o.capture != Options::Capture::Pcap) {
    if (!o.read_file.empty()) return tl::unexpected("--capture " + capture_mode + " needs -i, not -r");
    if (!o.bpf_filter.empty()) {
      return tl::unexpected(std::string("--bpf-filter applies to --capture pcap; the eBPF filter uses --ports"));
    }
    if (o.ports.size() > capture::BpfSource::kMaxPorts) {
      return tl::unexpected("--ports: at most " + std::to_string(capture::BpfSource::kMaxPorts) +
                            " ports with --capture " + capture_mode);
    }
  }
  if (o.xdp_drop && o.capture != Options::Capture::Xdp) {
    return tl::unexpected(std::string("--xdp-drop needs --capture xdp"));
  }
  if (auto r = apply_daemon_options(vm, o); !r) return tl::unexpected(r.error());

  auto& tracker = o.pipeline.tracker;
  std::int64_t established_s = 0;
  std::int64_t syn_s = 0;
  std::int64_t closed_s = 0;
  std::int64_t fragment_s = 0;
  auto& decoder = o.pipeline.decoder;
  for (auto r : {take_positive(vm, "max-flows", tracker.max_flows),
                 take_positive(vm, "max-buffer-per-direction",
                               tracker.max_buffered_bytes_per_direction),
                 take_positive(vm, "max-buffer-total", tracker.max_buffered_bytes_total),
                 take_positive(vm, "established-timeout", established_s),
                 take_positive(vm, "syn-timeout", syn_s),
                 take_positive(vm, "closed-timeout", closed_s),
                 take_positive(vm, "fragment-timeout", fragment_s),
                 take_positive(vm, "max-fragment-datagrams", decoder.max_fragment_datagrams),
                 take_positive(vm, "max-fragment-bytes", decoder.max_fragment_bytes),
                 take_positive(vm, "max-line", o.pipeline.smtp.max_line_bytes),
                 take_positive(vm, "queue-size", o.queue_size),
                 take_positive(vm, "max-message-bytes", o.max_message_bytes),
                 take_positive(vm, "flush-timeout", o.flush_timeout_ms)}) {
    if (!r) return tl::unexpected(r.error());
  }
  // The memory cap sizes what the user left open: a quarter for out-of-order bytes, the rest
  // (after IP fragments and ~32 MiB for rules, matcher and buffers) for connections, each
  // planned at an idle SMTP connection's cost. A SYN flood then stays within the cap.
  std::int64_t memory_cap_mib = 512;
  if (auto r = take_positive(vm, "memory-cap", memory_cap_mib); !r) return tl::unexpected(r.error());
  const std::uint64_t memory_cap = static_cast<std::uint64_t>(memory_cap_mib) << 20;
  if (!vm.count("max-buffer-total")) tracker.max_buffered_bytes_total = memory_cap / 4;
  if (!vm.count("max-flows")) {
    const std::uint64_t reserved = tracker.max_buffered_bytes_total + decoder.max_fragment_bytes + (32u << 20);
    if (reserved + flow::kPlannedBytesPerFlow > memory_cap) {
      return tl::unexpected("--memory-cap: " + std::to_string(memory_cap_mib) +
                            " MiB leaves no room for connections after the buffers; raise it or set --max-flows");
    }
    tracker.max_flows = static_cast<std::uint32_t>(
        std::min<std::uint64_t>((memory_cap - reserved) / flow::kPlannedBytesPerFlow, 0xFFFF'FFFFu));
  }
  if (established_s > 0) tracker.established_timeout_usec = established_s * 1'000'000;
  if (syn_s > 0) tracker.syn_timeout_usec = syn_s * 1'000'000;
  if (closed_s > 0) tracker.closed_timeout_usec = closed_s * 1'000'000;
  if (fragment_s > 0) decoder.fragment_timeout_usec = fragment_s * 1'000'000;
  if (vm.count("flush-timeout")) o.flush_timeout_ms *= 1000;
  if (vm.count("dedup-window")) {
    const std::int64_t v = vm["dedup-window"].as<std::int64_t>();
    if (v < 0) return tl::unexpected(std::string("--dedup-window: must be 0 or more seconds"));
    o.dedup.window_usec = v * 1'000'000;
  }
  if (vm.count("rate-limit")) {
    const std::int64_t v = vm["rate-limit"].as<std::int64_t>();
    if (v < 0 || v > 1'000'000) return tl::unexpected(std::string("--rate-limit: must be 0-1000000"));
    o.dedup.rate_per_minute = static_cast<std::uint32_t>(v);
  }
  if (vm.count("syslog-facility")) {
    const std::int64_t v = vm["syslog-facility"].as<std::int64_t>();
    if (v < 0 || v > 23) return tl::unexpected(std::string("--syslog-facility: must be 0-23"));
    o.syslog_facility = static_cast<std::uint8_t>(v);
  }
  if (auto r = apply_fleet_options(vm, o); !r) return tl::unexpected(r.error());
  if (auto r = apply_learn_options(vm, o); !r) return tl::unexpected(r.error());
  return result;
}

}  // namespace rcptwatch::app
