// Start-up, the capture loop and shutdown. Start-up failures are logged and become exit
// codes; nothing on the per-packet path logs.
#include "app/sensor_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string_view>

#include <unistd.h>

#include <chrono>

#include "alert/dedup.h"
#include "alert/queued_sink.h"
#include "alert/sink.h"
#include "app/options.h"
#include "app/pipeline.h"
#include "app/rules_command.h"
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

// The one piece of global state: flags set by signal handlers, read by the capture loop.
volatile std::sig_atomic_t g_stop_requested = 0;
volatile std::sig_atomic_t g_reload_requested = 0;
volatile std::sig_atomic_t g_stats_requested = 0;

void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reload_requested = 1;
  } else if (sig == SIGUSR1) {
    g_stats_requested = 1;
  } else {
    g_stop_requested = 1;
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaction(sig, &sa, nullptr);
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

alert::FormatContext format_context(const Options& o) {
  alert::FormatContext c;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') c.hostname = host;
  c.pid = static_cast<std::uint32_t>(getpid());
  c.version = RCPTWATCH_VERSION;
  c.facility = o.syslog_facility;
  c.max_bytes = o.max_message_bytes;
  return c;
}

// The outputs named by --output (stdout when none), each behind its own queue and sender.
std::vector<std::unique_ptr<alert::QueuedSink>> open_outputs(const Options& o, bool replay) {
  std::vector<alert::OutputSpec> specs = o.outputs;
  if (specs.empty()) {
    alert::OutputSpec stdout_spec;
    stdout_spec.kind = alert::OutputKind::Stdout;
    stdout_spec.format = o.format;
    stdout_spec.uri = "stdout";
    specs.push_back(stdout_spec);
  }
  alert::QueuedSinkOptions qo;
  qo.capacity = o.queue_size;
  qo.flush_timeout = std::chrono::milliseconds(o.flush_timeout_ms);
  qo.block_when_full = replay;  // a replay has no deadline: wait rather than drop
  std::vector<std::unique_ptr<alert::QueuedSink>> sinks;
  for (const auto& spec : specs) {
    sinks.push_back(std::make_unique<alert::QueuedSink>(spec, format_context(o), qo));
  }
  return sinks;
}

void write_output_stats(alert::JsonWriter& w, const std::vector<alert::OutputSpec>& specs,
                        const std::vector<std::unique_ptr<alert::QueuedSink>>& sinks,
                        const alert::DedupSink& dedup) {
  w.key("outputs");
  w.begin_object();
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    const alert::OutputStats st = sinks[i]->stats();
    w.key(i < specs.size() ? specs[i].uri : std::string("stdout"));
    w.begin_object();
    w.field("sent", st.sent);
    w.field("dropped", st.dropped);
    w.field("dropped_overflow", st.dropped_overflow);
    w.field("reconnects", st.reconnects);
    w.field("resent", st.resent);
    w.field("errors", st.errors);
    w.field("queued", st.queued);
    w.end_object();
  }
  w.end_object();
  const auto& d = dedup.counters();
  w.key("dedup");
  w.begin_object();
  w.field("emitted", d.emitted);
  w.field("duplicates", d.duplicates);
  w.field("rate_limited", d.rate_limited);
  w.field("evicted", d.evicted);
  w.end_object();
}

Timestamp wall_clock_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return Timestamp{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000};
}

}  // namespace

int sensor_main(int argc, const char* const* argv) {
  if (argc > 1 && std::string_view(argv[1]) == "rules") {
    return rules_command_main(argc - 1, argv + 1);
  }
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

  const bool replay = !options.read_file.empty();
  auto outputs = open_outputs(options, replay);
  std::vector<alert::AlertSink*> raw_outputs;
  for (auto& o : outputs) raw_outputs.push_back(o.get());
  alert::FanoutSink fanout(std::move(raw_outputs));
  alert::DedupSink sink(fanout, options.dedup);
  Pipeline pipeline(options.pipeline, matcher, sink);
  install_signal_handlers();

  auto write_stats = [&] {
    sink.write_event_json(pipeline.stats_json((*source)->stats(), wall_clock_now(),
                                              [&](alert::JsonWriter& w) {
                                                write_output_stats(w, options.outputs, outputs, sink);
                                              }));
  };

  int status = kExitOk;
  capture::Packet packet;
  for (;;) {
    if (g_stop_requested) break;
    if (g_reload_requested) {
      g_reload_requested = 0;
      // Rules first: a broken file keeps the old rules (and says why); then reopen files.
      auto reloaded = load_rules(options);
      if (reloaded) {
        pipeline.set_matcher(std::make_shared<const detect::Matcher>(*reloaded));
        spdlog::warn("SIGHUP: rules reloaded ({} rules)", (*reloaded)->rules().size());
      } else {
        for (const auto& e : reloaded.error()) spdlog::error("SIGHUP: {}", e.to_string());
        spdlog::error("SIGHUP: rules refused; keeping the previous rules");
      }
      for (auto& o : outputs) o->request_reopen();
    }
    if (g_stats_requested) {
      g_stats_requested = 0;
      write_stats();
    }
    const capture::NextStatus next = (*source)->next(packet);
    if (next == capture::NextStatus::Packet) {
      pipeline.process(packet);
    } else if (next == capture::NextStatus::Timeout) {
      continue;
    } else if (next == capture::NextStatus::Error) {
      // Judge what was read before the damage, then report it.
      spdlog::error("{}: {}", (*source)->name(), (*source)->error());
      std::fprintf(stderr, "rcptwatch: %s: %s\n", (*source)->name().c_str(),
                   (*source)->error().c_str());
      status = kExitInput;
      break;
    } else {
      break;
    }
  }
  pipeline.finish();
  if (options.stats) write_stats();
  // Deliver what is queued (bounded wait), then report what could not be delivered.
  const auto deadline = alert::SteadyClock::now() + std::chrono::milliseconds(options.flush_timeout_ms);
  for (auto& o : outputs) o->close(deadline);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const alert::OutputStats st = outputs[i]->stats();
    if (st.dropped > 0) {
      spdlog::warn("output {}: {} alerts not delivered ({} by queue overflow)",
                   i < options.outputs.size() ? options.outputs[i].uri : "stdout", st.dropped,
                   st.dropped_overflow);
    }
  }
  const capture::SourceStats source_stats = (*source)->stats();
  spdlog::info("{} packets, {} recipients checked, {} alerts", source_stats.packets,
               pipeline.counters().recipients_checked, pipeline.counters().alerts);
  return status;
}

}  // namespace rcptwatch::app
