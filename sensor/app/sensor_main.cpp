// Start-up, the capture loop and shutdown. Start-up failures are logged and become exit
// codes; nothing on the per-packet path logs.
#include "app/sensor_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string_view>

#include <unistd.h>

#include <chrono>
#include <optional>

#include "alert/dedup.h"
#include "alert/queued_sink.h"
#include "alert/sink.h"
#include "app/options.h"
#include "app/pipeline.h"
#include "app/rules_command.h"
#include "app/state_command.h"
#include "capture/bpf_source.h"
#include "capture/multi_source.h"
#include "capture/pcap_source.h"
#include "app/privileges.h"
#include "app/stats_report.h"
#include "app/workers.h"
#include "detect/matcher.h"
#include "detect/rules.h"
#include "learn/flush_thread.h"
#include "learn/learner.h"

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
  qo.transport.max_queued_messages = o.queue_size;  // kafka: librdkafka's queue, then ours
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

// One live libpcap handle per interface; several are polled together.
tl::expected<std::unique_ptr<capture::PacketSource>, std::string> open_pcap_live(
    const std::vector<std::string>& interfaces, const capture::LiveOptions& live) {
  std::vector<std::unique_ptr<capture::PcapSource>> opened;
  for (const std::string& name : interfaces) {
    auto one = capture::PcapSource::open_live(name, live);
    if (!one) return tl::unexpected(one.error());
    opened.push_back(std::move(*one));
  }
  if (opened.size() == 1) return std::unique_ptr<capture::PacketSource>(std::move(opened.front()));
  return std::make_unique<capture::MultiSource>(std::move(opened), live.poll_timeout_ms);
}

void write_one_source(alert::JsonWriter& w, const std::string& name, const capture::SourceStats& st) {
  w.key(name);
  w.begin_object();
  w.field("packets", st.packets);
  w.field("bytes", st.bytes);
  w.field("kernel_drops", st.dropped_by_kernel);
  w.field("interface_drops", st.dropped_by_interface);
  w.end_object();
}

// "sources": each interface's own counters (pcap_stats: kernel and interface drops).
void write_source_stats(alert::JsonWriter& w, const capture::PacketSource& source) {
  w.key("sources");
  w.begin_object();
  if (const auto* multi = dynamic_cast<const capture::MultiSource*>(&source)) {
    for (const auto& s : multi->sources()) write_one_source(w, s->name(), s->stats());
  } else {
    write_one_source(w, source.name(), source.stats());
  }
  w.end_object();
}

void write_worker_stats(alert::JsonWriter& w, const WorkerPool& pool) {
  const std::vector<WorkerStats> all = pool.worker_stats();
  std::uint64_t full = 0;
  std::uint64_t oversized = 0;
  for (const WorkerStats& s : all) {
    full += s.ring_full_drops;
    oversized += s.oversized_drops;
  }
  w.key("workers");
  w.begin_object();
  w.field("count", static_cast<std::uint64_t>(all.size()));
  w.field("ring_full_drops", full);
  w.field("oversized_drops", oversized);
  w.key("per_worker");
  w.begin_array();
  for (const WorkerStats& s : all) {
    w.begin_object();
    w.field("frames", s.frames);
    w.field("dns_learned", s.dns_learned);
    w.field("ring_full_drops", s.ring_full_drops);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_learn_stats(alert::JsonWriter& w, const learn::LearnCounters& c) {
  w.key("learn");
  w.begin_object();
  w.field("transactions", c.observed.transactions);
  w.field("recipients", c.observed.recipients);
  w.field("recipients_rejected", c.observed.recipients_rejected);
  w.field("invalid_domains", c.observed.invalid_domains);
  w.field("domains_over_cap", c.observed.domains_over_cap);
  w.field("flushes", c.flushes);
  w.field("store_errors", c.store_errors);
  w.field("domains_added", c.domains_added);
  w.field("domains_evicted", c.domains_evicted);
  w.field("promoted", c.promoted);
  w.field("candidates_lookalike", c.candidates_lookalike);
  w.field("matcher_rebuilds", c.matcher_rebuilds);
  w.field("domains", c.domains);
  w.field("established", c.established);
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
  if (argc > 1 && std::string_view(argv[1]) == "state") {
    return state_command_main(argc - 1, argv + 1);
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

  // Handlers before the source opens: a SIGTERM during start-up must still reach the loop,
  // so an attached eBPF program is detached by the source's destructor.
  install_signal_handlers();
  tl::expected<std::unique_ptr<capture::PacketSource>, std::string> source;
  if (!options.read_file.empty()) {
    source = capture::PcapSource::open_file(options.read_file);
  } else if (options.capture != Options::Capture::Pcap) {
    capture::BpfOptions bpf;
    bpf.hook = options.capture == Options::Capture::Xdp ? capture::BpfHook::Xdp : capture::BpfHook::Tc;
    bpf.xdp_mode = options.xdp_mode;
    bpf.xdp_drop = options.xdp_drop;
    bpf.ports = options.ports;
    bpf.verbose_errors = options.verbosity >= 1;
    bpf.libbpf_debug = options.verbosity >= 2;
    auto opened = capture::BpfSource::open(options.interfaces, bpf);
    if (opened) {
      for (const auto& a : (*opened)->attachments()) spdlog::info("{}: attached {}", a.interface, a.how);
      source = std::move(*opened);
    } else {
      source = tl::unexpected(opened.error());
    }
  } else {
    capture::LiveOptions live;
    live.bpf_filter = options.bpf_filter.empty() ? default_live_filter(options.ports) : options.bpf_filter;
    live.snaplen = options.snaplen;
    live.promiscuous = options.promisc;
    live.immediate = options.immediate;
    live.buffer_bytes = options.pcap_buffer_mb << 20;
    source = open_pcap_live(options.interfaces, live);
  }
  if (!source) {
    std::fprintf(stderr, "rcptwatch: %s\n", source.error().c_str());
    return kExitInput;
  }
  spdlog::info("reading {}", (*source)->name());

  const bool replay = !options.read_file.empty();
  // Least privilege: everything that needs root (capture handles, eBPF programs, the file
  // to replay) is open now. The pid file is written first, as the process may not be able
  // to write its directory afterwards. A replay drops only when --user is given (it needs no
  // privilege to begin with, and its outputs may live in root's directories).
  std::optional<PidFile> pidfile;
  if (!options.pidfile.empty()) {
    auto created = PidFile::create(options.pidfile);
    if (!created) {
      std::fprintf(stderr, "rcptwatch: %s\n", created.error().c_str());
      return kExitUsage;
    }
    pidfile.emplace(std::move(*created));
  }
  if (!replay || !options.run_user.empty()) {
    const std::string user = options.run_user.empty() ? default_run_user() : options.run_user;
    // TC filters are removed over netlink at exit, which needs CAP_NET_ADMIN; it is the one
    // capability kept, and only with --capture tc.
    const bool keep_net_admin = !replay && options.capture == Options::Capture::Tc;
    auto dropped = drop_privileges(user, keep_net_admin);
    if (!dropped) {
      std::fprintf(stderr, "rcptwatch: cannot drop privileges: %s\n", dropped.error().c_str());
      return kExitUsage;
    }
    spdlog::info("running as {} (uid {}, gid {}){}", user, dropped->uid, dropped->gid,
                 keep_net_admin ? ", CAP_NET_ADMIN kept for TC detach" : ", no capabilities");
  }
  std::vector<std::unique_ptr<alert::QueuedSink>> outputs;
  try {
    outputs = open_outputs(options, replay);
  } catch (const std::runtime_error& e) {  // a Kafka producer librdkafka refuses to configure
    std::fprintf(stderr, "rcptwatch: %s\n", e.what());
    return kExitUsage;
  }
  if (!options.pipeline.evidence.dir.empty()) {
    // Checked here so that the Pipeline constructor's failure path is never taken.
    if (auto store = fleet::EvidenceStore::open(options.pipeline.evidence); !store) {
      std::fprintf(stderr, "rcptwatch: --evidence-dir: %s\n", store.error().c_str());
      return kExitUsage;
    }
  }
  // --learn: the store is opened after the drop too, with the rights it is written with.
  std::unique_ptr<learn::Learner> learner;
  if (options.learn) {
    auto opened = learn::Learner::open(options.learn_config, matcher);
    if (!opened) {
      std::fprintf(stderr, "rcptwatch: --learn: %s\n", opened.error().c_str());
      return kExitUsage;
    }
    learner = std::move(*opened);
    spdlog::info("--learn: {}, {} established correspondents", learner->store_path(),
                 learner->counters().established);
  }
  std::vector<alert::AlertSink*> raw_outputs;
  for (auto& o : outputs) raw_outputs.push_back(o.get());
  alert::FanoutSink fanout(std::move(raw_outputs));
  alert::DedupSink sink(fanout, options.dedup);
  // One alert pipeline for every worker: de-duplication and the outputs behind one lock.
  LockedSink locked(sink);
  // One worker: the Pipeline runs in this thread (a replay is then deterministic to the
  // byte). More: this thread captures and routes, the workers judge.
  std::optional<Pipeline> single;
  std::unique_ptr<WorkerPool> pool;
  if (options.workers <= 1) {
    single.emplace(options.pipeline, matcher, locked);
  } else {
    pool = std::make_unique<WorkerPool>(options.workers, replay, options.pipeline, matcher, locked);
    spdlog::info("{} workers", options.workers);
  }
  // Learned rules reach the pipelines at a point of the packet stream (workers: a record in
  // every ring), and the store is written there from every pipeline's batch, so a replay
  // gives the same alerts with any number of workers.
  auto push_learned = [&](std::shared_ptr<const detect::Matcher> learned) {
    if (single) {
      single->set_learned_matcher(std::move(learned));
    } else {
      pool->set_learned_matcher(std::move(learned));
    }
  };
  if (learner && learner->matcher()) push_learned(learner->matcher());
  // Live capture flushes on a thread of its own (a flush can take a second); replay in this
  // thread, where its place in the packet stream makes the alerts reproducible.
  std::unique_ptr<learn::FlushThread> flusher;
  if (learner && !replay) flusher = std::make_unique<learn::FlushThread>(*learner);
  auto flush_learned = [&](Timestamp now) {
    learn::ObservationBatch batch = single ? single->take_observations() : pool->take_observations();
    if (flusher) {
      flusher->submit(std::move(batch), now);
      return;
    }
    auto changed = learner->flush(batch, now);
    if (!changed) {
      spdlog::error("--learn: {}", changed.error());
    } else if (*changed) {
      push_learned(learner->matcher());
      spdlog::info("--learn: {} established correspondents", learner->counters().established);
    }
  };
  // What the flush thread finished meanwhile (an atomic load when nothing).
  auto collect_flushed = [&](bool push) {
    if (!flusher) return;
    const auto outcome = flusher->take();
    if (!outcome) return;
    if (outcome->failures > 0) spdlog::error("--learn: {}", outcome->last_error);
    if (outcome->matcher_changed) {
      if (push) push_learned(outcome->matcher);
      spdlog::info("--learn: {} established correspondents", outcome->established);
    }
  };

  auto make_stats = [&](Timestamp now) {
    const capture::SourceStats source_total = (*source)->stats();
    auto extra = [&](alert::JsonWriter& w) {
      locked.with_lock([&] { write_output_stats(w, options.outputs, outputs, sink); });
      write_source_stats(w, **source);
      if (pool) write_worker_stats(w, *pool);
      if (learner) write_learn_stats(w, flusher ? flusher->counters() : learner->counters());
    };
    if (single) return single->stats_json(source_total, now, extra);
    std::string extra_json;
    alert::JsonWriter w(extra_json);
    w.begin_object();
    extra(w);
    w.end_object();
    return add_stats_sections(merge_stats_events(pool->collect_stats(source_total, now)), extra_json);
  };
  auto write_stats = [&](Timestamp now, bool log_line) {
    const std::string event = make_stats(now);
    locked.write_event_json(event);
    if (log_line) spdlog::info("{}", stats_log_line(event));
  };
  // --stats-interval: on packet time for a replay (the same events however fast it runs),
  // on the wall clock for live capture.
  const std::int64_t interval_usec = options.stats_interval_s * 1'000'000;
  Timestamp next_packet_stats{};
  auto next_wall_stats = std::chrono::steady_clock::now() + std::chrono::seconds(options.stats_interval_s);
  Timestamp last_ts{};
  const std::int64_t learn_interval_usec = options.learn_config.flush_interval_usec;
  Timestamp next_learn_flush{};

  int status = kExitOk;
  auto on_packet = [&](const capture::Packet& packet) {
    if (interval_usec > 0 && replay) {
      if (next_packet_stats.usec == 0) next_packet_stats = Timestamp{packet.ts.usec + interval_usec};
      if (packet.ts >= next_packet_stats) {
        write_stats(next_packet_stats, true);
        while (next_packet_stats <= packet.ts) next_packet_stats.usec += interval_usec;
      }
    }
    if (learner) {  // on packet time, live or replay
      if (next_learn_flush.usec == 0) next_learn_flush = Timestamp{packet.ts.usec + learn_interval_usec};
      if (packet.ts >= next_learn_flush) {
        flush_learned(next_learn_flush);
        const std::int64_t behind = packet.ts.usec - next_learn_flush.usec;  // a jump in time: one flush
        next_learn_flush.usec += (behind / learn_interval_usec + 1) * learn_interval_usec;
      }
    }
    last_ts = packet.ts;
    if (single) {
      single->process(packet);
    } else {
      pool->dispatch(packet);
    }
  };
  // Signals, wall-clock stats and the flush thread are looked at between batches of at most
  // this many packets (a live source also ends a batch when it has nothing to give).
  constexpr std::size_t kBatch = 256;
  for (;;) {
    if (g_stop_requested) break;
    if (g_reload_requested) {
      g_reload_requested = 0;
      // Rules first: a broken file keeps the old rules (and says why); then reopen files.
      auto reloaded = load_rules(options);
      if (reloaded) {
        auto fresh = std::make_shared<const detect::Matcher>(*reloaded);
        if (single) {
          single->set_matcher(fresh);
        } else {
          pool->reload(fresh);
        }
        if (flusher) {  // its allow rules apply to the learned ones too
          auto learned = flusher->with_learner([&](learn::Learner& l) {
            return l.set_configured(fresh) ? std::optional(l.matcher()) : std::nullopt;
          });
          if (learned) push_learned(*learned);
        } else if (learner && learner->set_configured(fresh)) {
          push_learned(learner->matcher());
        }
        spdlog::warn("SIGHUP: rules reloaded ({} rules)", (*reloaded)->rules().size());
      } else {
        for (const auto& e : reloaded.error()) spdlog::error("SIGHUP: {}", e.to_string());
        spdlog::error("SIGHUP: rules refused; keeping the previous rules");
      }
      for (auto& o : outputs) o->request_reopen();
    }
    if (g_stats_requested) {
      g_stats_requested = 0;
      write_stats(wall_clock_now(), true);
    }
    if (interval_usec > 0 && !replay && std::chrono::steady_clock::now() >= next_wall_stats) {
      next_wall_stats += std::chrono::seconds(options.stats_interval_s);
      write_stats(wall_clock_now(), true);
    }
    if (flusher) collect_flushed(true);
    const capture::NextStatus next = capture::for_each_packet(**source, kBatch, on_packet);
    if (pool) pool->end_batch(last_ts);
    if (next == capture::NextStatus::Packet || next == capture::NextStatus::Timeout) {
      continue;
    } else if (next == capture::NextStatus::Error) {
      // Judge what was read before the damage, then report it (once: the log also goes to
      // stderr, so a second copy through spdlog would print the same line twice).
      std::fprintf(stderr, "rcptwatch: %s: %s\n", (*source)->name().c_str(),
                   (*source)->error().c_str());
      status = kExitInput;
      break;
    } else {
      break;
    }
  }
  if (single) {
    single->finish();
  } else {
    pool->finish(last_ts);
  }
  if (learner) flush_learned(last_ts.usec != 0 ? last_ts : wall_clock_now());
  if (flusher) {
    flusher->stop();        // writes what is queued
    collect_flushed(false);  // the pipelines are done: only the log is left
  }
  if (options.stats) write_stats(wall_clock_now(), false);
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
               single ? single->counters().recipients_checked : pool->recipients_checked(),
               single ? single->counters().alerts : pool->alerts());
  return status;
}

}  // namespace rcptwatch::app
