// Option definitions, help text, and validation of the command line and config file.
#include "app/options.h"

#include <boost/program_options.hpp>

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
       "capture live from this interface with libpcap")
      ("ports", po::value<std::string>()->default_value("25,587,2525"),
       "comma-separated TCP ports that carry SMTP")
      ("bpf-filter", po::value<std::string>(),
       "live capture filter (default: tcp and the SMTP ports, plus IP fragments)");

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
       "  syslog+unix:///dev/log\n"
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

  po::options_description limits("Limits (all counted in the stats when hit)");
  add_int_option(limits, "max-flows", "connections tracked at once (default 1048576)");
  add_int_option(limits, "max-buffer-per-direction",
                 "out-of-order bytes held per direction (default 1048576)");
  add_int_option(limits, "max-buffer-total", "out-of-order bytes held in all (default 268435456)");
  add_int_option(limits, "established-timeout", "idle seconds before a connection is dropped (default 600)");
  add_int_option(limits, "syn-timeout", "idle seconds before a half-open connection is dropped (default 30)");
  add_int_option(limits, "closed-timeout", "seconds a closed connection is remembered (default 10)");
  add_int_option(limits, "max-line", "longest SMTP line kept, in bytes (default 4096)");
  add_int_option(limits, "max-fragment-datagrams", "IP datagrams under reassembly at once (default 4096)");
  add_int_option(limits, "max-fragment-bytes", "bytes held for IP reassembly in all (default 16777216)");
  add_int_option(limits, "fragment-timeout", "seconds an incomplete IP datagram is kept (default 30)");

  po::options_description all;
  all.add(general).add(input).add(detection).add(limits);

  ParsedCommandLine result;
  {
    std::ostringstream help;
    help << kUsage << "\n" << all;
    result.help_text = help.str();
  }

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
  if (o.interfaces.size() > 1) {
    return tl::unexpected(std::string("-i: one interface per process for now"));
  }

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
  return result;
}

}  // namespace rcptwatch::app
