// Command line and config-file options (Boost.Program_options), parsed into a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "alert/dedup.h"
#include "alert/formats.h"
#include "alert/output_spec.h"
#include "app/pipeline.h"
#include "capture/bpf_source.h"
#include "learn/learner.h"

namespace rcptwatch::app {

struct Options {
  std::string read_file;                 // -r; "-" for stdin
  std::vector<std::string> interfaces;   // -i
  std::vector<std::string> rule_files;   // --rules; empty: the embedded default rules
  alert::Format format = alert::Format::Json;     // --format: default for every output
  std::vector<alert::OutputSpec> outputs;        // --output; empty means stdout
  alert::DedupConfig dedup;
  std::size_t queue_size = 10'000;               // per output
  std::size_t max_message_bytes = 8192;
  std::uint8_t syslog_facility = 16;             // local0
  std::int64_t flush_timeout_ms = 5000;
  std::vector<std::uint16_t> ports{25, 587, 2525};
  std::string bpf_filter;                // live capture filter; default built from ports
  enum class Capture : std::uint8_t { Pcap, Xdp, Tc } capture = Capture::Pcap;  // --capture
  capture::XdpMode xdp_mode = capture::XdpMode::Auto;  // --xdp-mode
  bool xdp_drop = false;                 // --xdp-drop
  int verbosity = 0;                     // -v count
  bool stats = false;                    // --stats: a stats event at exit
  // Daemon use (issue 8).
  unsigned workers = 1;                  // --workers; default cores-1 live, 1 for a replay
  int snaplen = 65535;                   // --snaplen (pcap live)
  int pcap_buffer_mb = 0;                // --pcap-buffer-mb; 0: libpcap's default
  bool immediate = true;                 // --immediate on|off (pcap live)
  bool promisc = true;                   // --promisc on|off (pcap live)
  std::int64_t stats_interval_s = 0;     // --stats-interval; 0: off
  std::string run_user;                  // --user; empty: default_run_user() for live capture
  std::string pidfile;                   // --pidfile
  // Learned protection (issue 11): --learn, --state-dir, --learn-* thresholds and bounds.
  bool learn = false;
  learn::LearnConfig learn_config;
  PipelineConfig pipeline;
};

// What the command line asked for.
struct ParsedCommandLine {
  enum class Action : std::uint8_t { Run, Help, Version } action = Action::Run;
  Options options;
  std::string help_text;
};

// Parses argv (and the config file named by -c, whose values the command line overrides).
// Errors are one line naming the cause.
tl::expected<ParsedCommandLine, std::string> parse_command_line(int argc, const char* const* argv);

// "25,587,2525" -> ports; error names the bad element.
tl::expected<std::vector<std::uint16_t>, std::string> parse_port_list(const std::string& text);

}  // namespace rcptwatch::app
