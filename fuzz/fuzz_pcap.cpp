// libFuzzer entry point for whole capture files: the input is written to a memfd and read back
// through PcapSource (libpcap's pcap/pcapng reader) into the full Pipeline with the built-in
// rules and small caps, exactly as `rcptwatch -r FILE` does, including stats at the end.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "alert/sink.h"
#include "app/pipeline.h"
#include "app/sensor_main.h"
#include "capture/pcap_source.h"
#include "detect/matcher.h"
#include "detect/rules.h"

namespace {

using namespace rcptwatch;

class NullSink final : public alert::AlertSink {
 public:
  void write_alert(const alert::Alert&) override { ++alerts; }
  void write_event_json(std::string_view json) override {
    if (json.empty()) __builtin_trap();
  }
  void flush() override {}
  std::uint64_t alerts = 0;
};

// Parsed once: the rules are not what this target fuzzes.
std::shared_ptr<const detect::Matcher> default_matcher() {
  static const std::shared_ptr<const detect::Matcher> matcher = [] {
    auto rules = detect::parse_rules(app::kDefaultRulesText, "<built-in default.rules>");
    if (!rules) __builtin_trap();
    return std::make_shared<const detect::Matcher>(*rules);
  }();
  return matcher;
}

// RAII for the memfd holding one input.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fd file;
  file.fd = memfd_create("fuzz-pcap", 0);
  if (file.fd < 0) __builtin_trap();
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = write(file.fd, data + written, size - written);
    if (n <= 0) __builtin_trap();
    written += static_cast<std::size_t>(n);
  }
  auto source = capture::PcapSource::open_file("/proc/self/fd/" + std::to_string(file.fd));
  if (!source) {
    if (source.error().empty()) __builtin_trap();  // refused without a reason
    return 0;
  }

  app::PipelineConfig config;
  config.decoder.max_fragment_datagrams = 16;
  config.decoder.max_fragment_bytes = 64u << 10;
  config.tracker.max_flows = 64;
  config.tracker.max_buffered_bytes_per_direction = 16u << 10;
  config.tracker.max_buffered_bytes_total = 256u << 10;
  config.smtp.max_line_bytes = 512;
  config.smtp.max_recipients_per_transaction = 64;
  config.smtp.max_pending_commands = 32;
  config.log_envelopes = true;
  NullSink sink;
  app::Pipeline pipeline(config, default_matcher(), sink);

  capture::Packet packet;
  for (int i = 0; i < 100000; ++i) {
    const capture::NextStatus next = (*source)->next(packet);
    if (next == capture::NextStatus::Packet) {
      pipeline.process(packet);
    } else {
      if (next == capture::NextStatus::Error && (*source)->error().empty()) __builtin_trap();
      break;
    }
  }
  pipeline.finish();
  const std::string stats = pipeline.stats_json((*source)->stats(), Timestamp{0});
  if (stats.empty()) __builtin_trap();
  return 0;
}
