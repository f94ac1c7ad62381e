// Per-flow memory of an idle established connection, for docs/PERFORMANCE.md (issue #3):
// the flow-table entry as counted by TcpTracker::flow_entry_bytes(), and the measured cost
// (heap bytes in use and resident set growth) of N idle flows driven through the pipeline.
//   flow_memory [N]   -> one JSON object on stdout
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alert/sink.h"
#include "app/pipeline.h"
#include "capture/packet_source.h"
#include "detect/matcher.h"
#include "detect/rules.h"
#include "flow/tcp_tracker.h"
#include "frames.h"

namespace {

using namespace rcptwatch;

class NullSink final : public alert::AlertSink {
 public:
  void write_alert(const alert::Alert&) override {}
  void write_event_json(std::string_view) override {}
  void flush() override {}
};

long rss_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

std::size_t heap_in_use() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

struct Cost {
  double heap_per_flow = 0;
  double rss_per_flow = 0;
};

// N connections that complete the handshake and, with `smtp`, exchange the greeting and
// EHLO, then stay idle. Measured while all of them are still in the table.
Cost measure(std::uint32_t n, bool smtp) {
  NullSink sink;
  auto rules = detect::parse_rules("protect mil id=1\n", "flow_memory.rules");
  if (!rules) std::abort();
  app::Pipeline pipeline(app::PipelineConfig{}, std::make_shared<const detect::Matcher>(*rules), sink);
  std::vector<std::vector<std::uint8_t>> frames;
  const auto feed = [&](std::int64_t usec) {
    for (const auto& f : frames) {
      capture::Packet p;
      p.ts = Timestamp{usec};
      p.link_type = 1;
      p.data = f;
      pipeline.process(p);
    }
  };
  frames.clear();
  const long rss_before = rss_bytes();
  const std::size_t heap_before = heap_in_use();
  for (std::uint32_t i = 0; i < n; ++i) {
    bench::Endpoints e;
    e.client = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                static_cast<std::uint8_t>(i)};
    const std::uint32_t c = 1000;
    const std::uint32_t s = 5000;
    frames.clear();
    frames.push_back(bench::tcp_frame(e, true, c, 0, 0x02, ""));
    frames.push_back(bench::tcp_frame(e, false, s, c + 1, 0x12, ""));
    frames.push_back(bench::tcp_frame(e, true, c + 1, s + 1, 0x10, ""));
    if (smtp) {
      const std::string_view greeting = "220 mx.example.net ESMTP\r\n";
      const std::string_view ehlo = "EHLO ws.corp.example.com\r\n";
      frames.push_back(bench::tcp_frame(e, false, s + 1, c + 1, 0x18, greeting));
      frames.push_back(bench::tcp_frame(e, true, c + 1, s + 1 + static_cast<std::uint32_t>(greeting.size()), 0x18, ehlo));
      frames.push_back(bench::tcp_frame(e, false, s + 1 + static_cast<std::uint32_t>(greeting.size()),
                                        c + 1 + static_cast<std::uint32_t>(ehlo.size()), 0x18,
                                        "250-mx.example.net\r\n250 PIPELINING\r\n"));
    }
    feed(1'000'000 + i);
  }
  frames.clear();
  frames.shrink_to_fit();
  Cost cost;
  cost.heap_per_flow = static_cast<double>(heap_in_use() - heap_before) / n;
  cost.rss_per_flow = static_cast<double>(rss_bytes() - rss_before) / n;
  return cost;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint32_t n = argc > 1 ? static_cast<std::uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 200'000;
  if (n == 0) {
    std::fprintf(stderr, "usage: flow_memory [N>0]\n");
    return 2;
  }
  const Cost tcp = measure(n, false);
  const Cost smtp = measure(n, true);
  std::printf("{\"flows\":%u,\"flow_entry_bytes\":%zu,"
              "\"tcp_idle\":{\"heap_per_flow\":%.0f,\"rss_per_flow\":%.0f},"
              "\"smtp_idle\":{\"heap_per_flow\":%.0f,\"rss_per_flow\":%.0f}}\n",
              n, flow::TcpTracker::flow_entry_bytes(), tcp.heap_per_flow, tcp.rss_per_flow,
              smtp.heap_per_flow, smtp.rss_per_flow);
  return 0;
}
