// Start-up, the capture loop and shutdown. Start-up failures are logged and become exit
// codes; nothing on the per-packet path logs.
#include "app/sensor_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>

#include "alert/sink.h"
#include "app/options.h"
#include "app/pipeline.h"
#include "capture/pcap_source.h"
#include "detect/matcher.h"
#include "detect/rules.h"

#ifndef RCPTWATCH_VERSION
#define RCPTWATCH_VERSION "0.0.0"
#endif

namespace rcptwatch::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitInput = 1;
constexpr int kExitUsage = 2;

volatile std::sig_atomic_t g_stop_requested = 0;  // the one piece of global state: signals

void on_stop_signal(int) { g_stop_requested = 1; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("rcptwatch");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(verbosity >= 2   ? spdlog::level::debug
                    : verbosity == 1 ? spdlog::level::info
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

std::string default_live_filter(const std::vector<std::uint16_t>& ports) {
  std::string port_expr;
  for (std::uint16_t p : ports) {
    if (!port_expr.empty()) port_expr += " or ";
    port_expr += "port " + std::to_string(p);
  }
  // SMTP segments, plus IPv4/IPv6 fragments (the TCP header may be in another fragment),
  // with and without one VLAN tag.
  const std::string core = "(tcp and (" + port_expr + ")) or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)";
  return core + " or (vlan and (" + core + "))";
}

tl::expected<std::shared_ptr<const detect::RuleSet>, std::vector<detect::LoadError>> load_rules(
    const Options& o) {
  if (o.rule_files.empty()) return detect::parse_rules(kDefaultRulesText, "<built-in default.rules>");
  return detect::load_rule_files(o.rule_files);
}

Timestamp wall_clock_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return Timestamp{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000};
}

}  // namespace

int sensor_main(int argc, const char* const* argv) {
  auto parsed = parse_command_line(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "rcptwatch: %s\n", parsed.error().c_str());
    return kExitUsage;
  }
  if (parsed->action == ParsedCommandLine::Action::Help) {
    std::fputs(parsed->help_text.c_str(), stdout);
    return kExitOk;
  }
  if (parsed->action == ParsedCommandLine::Action::Version) {
    std::printf("rcptwatch %s\n", RCPTWATCH_VERSION);
    return kExitOk;
  }
  const Options& options = parsed->options;
  setup_logging(options.verbosity);

  auto rules = load_rules(options);
  if (!rules) {
    for (const auto& e : rules.error()) std::fprintf(stderr, "rcptwatch: %s\n", e.to_string().c_str());
    std::fprintf(stderr, "rcptwatch: rules refused (%zu error%s); nothing loaded\n",
                 rules.error().size(), rules.error().size() == 1 ? "" : "s");
    return kExitUsage;
  }
  auto matcher = std::make_shared<const detect::Matcher>(*rules);

  tl::expected<std::unique_ptr<capture::PcapSource>, std::string> source;
  if (!options.read_file.empty()) {
    source = capture::PcapSource::open_file(options.read_file);
  } else {
    capture::LiveOptions live;
    live.bpf_filter = options.bpf_filter.empty() ? default_live_filter(options.ports) : options.bpf_filter;
    source = capture::PcapSource::open_live(options.interfaces.front(), live);
  }
  if (!source) {
    std::fprintf(stderr, "rcptwatch: %s\n", source.error().c_str());
    return kExitInput;
  }
  spdlog::info("reading {}", (*source)->name());

  alert::JsonLinesSink sink(stdout);
  Pipeline pipeline(options.pipeline, matcher, sink);
  install_signal_handlers();

  int status = kExitOk;
  capture::Packet packet;
  for (;;) {
    if (g_stop_requested) break;
    const capture::NextStatus next = (*source)->next(packet);
    if (next == capture::NextStatus::Packet) {
      pipeline.process(packet);
    } else if (next == capture::NextStatus::Timeout) {
      continue;
    } else if (next == capture::NextStatus::Error) {
      // Judge what was read before the damage, then report it.
      std::fprintf(stderr, "rcptwatch: %s: %s\n", (*source)->name().c_str(),
                   (*source)->error().c_str());
      status = kExitInput;
      break;
    } else {
      break;
    }
  }
  pipeline.finish();
  const capture::SourceStats source_stats = (*source)->stats();
  if (options.stats) sink.write_event_json(pipeline.stats_json(source_stats, wall_clock_now()));
  sink.flush();
  spdlog::info("{} packets, {} recipients checked, {} alerts", source_stats.packets,
               pipeline.counters().recipients_checked, pipeline.counters().alerts);
  return status;
}

}  // namespace rcptwatch::app
