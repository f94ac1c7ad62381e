// rw_send_alerts: sends N synthetic, numbered alerts through a QueuedSink to one output URI,
// flushes, and prints the output's counters, so the syslog end-to-end test can check
// delivery through a real collector. The alert for index i is a pure function of i, mirrored
// by check_received.py.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "alert/queued_sink.h"

namespace {

using namespace rcptwatch;
using namespace rcptwatch::alert;

Alert synthetic_alert(std::uint32_t i) {
  Alert a;
  a.ts = Timestamp{1689581730000000 + static_cast<std::int64_t>(i) * 1'000'000};
  a.flow_id = i + 1;
  const std::uint8_t src[4] = {10, 1, static_cast<std::uint8_t>(i / 256), static_cast<std::uint8_t>(i % 256)};
  const std::uint8_t dst[4] = {192, 0, 2, 25};
  a.src_ip = IpAddress::v4(src);
  a.src_port = static_cast<std::uint16_t>(40000 + i % 20000);
  a.dest_ip = IpAddress::v4(dst);
  a.dest_port = 25;
  a.capture = "complete";
  a.signature_id = 1 + i % 3;
  a.signature = "Lookalike of \"mil\" [test]";
  static constexpr Severity kSeverities[] = {Severity::Low, Severity::Medium, Severity::High,
                                             Severity::Critical};
  a.severity = kSeverities[i % 4];
  // Every 7th HELO carries the characters each format must escape.
  a.helo = "client" + std::to_string(i) + (i % 7 == 0 ? "\"]\\=|" : "") + ".example";
  a.mail_from = "sender" + std::to_string(i) + "@example.com";
  a.rcpt_to = (i % 5 == 0 ? "jos\xC3\xA9." : "user.") + std::to_string(i) + "@army.ml";
  a.rcpt_reply = 250;
  a.transaction = 1;
  a.domain = "army.ml";
  a.protected_domain = "mil";
  a.technique = "tld-omission";
  a.distance = 1;
  return a;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "rw_send_alerts: %s\nusage: rw_send_alerts --output URI [--format NAME] "
               "[--count N] [--interval-ms MS] [--capacity N] [--flush-timeout-ms MS] "
               "[--hostname NAME] [--backoff-max-ms MS]\n",
               why);
  std::exit(2);
}

long number(const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) usage("expected a non-negative number");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri;
  Format format = Format::Json;
  long count = 10;
  long interval_ms = 0;
  QueuedSinkOptions options;
  FormatContext context;
  context.hostname = "e2e";
  context.pid = 4242;
  context.version = "0.1.0";
  options.transport.backoff.max = std::chrono::milliseconds(1000);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* value = argv[++i];
    if (arg == "--output") {
      uri = value;
    } else if (arg == "--format") {
      auto f = parse_format(value);
      if (!f) usage(f.error().c_str());
      format = *f;
    } else if (arg == "--count") {
      count = number(value);
    } else if (arg == "--interval-ms") {
      interval_ms = number(value);
    } else if (arg == "--capacity") {
      options.capacity = static_cast<std::size_t>(number(value));
    } else if (arg == "--flush-timeout-ms") {
      options.flush_timeout = std::chrono::milliseconds(number(value));
    } else if (arg == "--hostname") {
      context.hostname = value;
    } else if (arg == "--backoff-max-ms") {
      options.transport.backoff.max = std::chrono::milliseconds(number(value));
    } else {
      usage("unknown option");
    }
  }
  if (uri.empty()) usage("--output is required");
  auto spec = parse_output_spec(uri, format);
  if (!spec) usage(spec.error().c_str());

  OutputStats stats;
  {
    QueuedSink sink(*spec, context, options);
    for (long i = 0; i < count; ++i) {
      sink.write_alert(synthetic_alert(static_cast<std::uint32_t>(i)));
      if (interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
    sink.close(SteadyClock::now() + options.flush_timeout);
    stats = sink.stats();
  }
  std::printf("enqueued=%llu sent=%llu dropped=%llu dropped_overflow=%llu reconnects=%llu "
              "resent=%llu errors=%llu\n",
              static_cast<unsigned long long>(stats.enqueued),
              static_cast<unsigned long long>(stats.sent),
              static_cast<unsigned long long>(stats.dropped),
              static_cast<unsigned long long>(stats.dropped_overflow),
              static_cast<unsigned long long>(stats.reconnects),
              static_cast<unsigned long long>(stats.resent),
              static_cast<unsigned long long>(stats.errors));
  return 0;
}
