// Evidence capture (--evidence-dir): the raw frames of each SMTP connection are held in a
// bounded per-flow buffer; when the connection raises an alert they are written to a pcap
// file (both directions, from the first frame held) and the rest of the connection follows
// until it closes. Connections that close without an alert release their buffer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "common/flow_key.h"
#include "common/types.h"

namespace rcptwatch::fleet {

struct EvidenceConfig {
  std::filesystem::path dir;                        // empty: evidence capture off
  std::size_t max_bytes_per_flow = 1 << 20;         // frames kept per connection (held + written)
  std::size_t max_files = 1000;                     // pcap files kept in dir; oldest removed first
  std::size_t max_bytes_held = 64 << 20;            // buffers of not-yet-alerting flows, in all
};

struct EvidenceCounters {
  std::uint64_t frames_held = 0;          // frames appended to a buffer or an open file
  std::uint64_t flows_capped = 0;         // flows that hit max_bytes_per_flow (later frames not kept)
  std::uint64_t frames_over_cap = 0;      // frames not kept because of that cap
  std::uint64_t flows_evicted = 0;        // buffers dropped to stay under max_bytes_held
  std::uint64_t flows_released = 0;       // closed without an alert
  std::uint64_t files_written = 0;
  std::uint64_t files_rotated = 0;        // removed to stay under max_files
  std::uint64_t write_errors = 0;
  std::uint64_t bytes_held = 0;           // gauge: bytes in buffers now
  std::uint64_t flows_held = 0;           // gauge: connections with a buffer or open file now
};

// Both endpoints of a TCP connection, in a canonical order so both directions map to one key.
// Connections are keyed as the flow tracker keys them (common/flow_key.h).
using FlowKey = rcptwatch::FlowKey;
using FlowKeyHash = rcptwatch::FlowKeyHash;

class EvidenceStore {
 public:
  // Creates `config.dir` if needed and adopts the *.pcap files already there (oldest first) so
  // that a restart keeps honouring max_files. Errors name the directory.
  static tl::expected<std::unique_ptr<EvidenceStore>, std::string> open(const EvidenceConfig& config);

  ~EvidenceStore();
  EvidenceStore(const EvidenceStore&) = delete;
  EvidenceStore& operator=(const EvidenceStore&) = delete;

  // One captured frame of the connection `key`, as the capture delivered it.
  void append(const FlowKey& key, Timestamp ts, std::uint32_t link_type, std::uint32_t wire_length,
              Bytes frame);
  // The connection raised an alert: write what is held to DIR/<flow_id>-<first_seen>.pcap
  // (once per connection) and keep writing its frames there. Returns the file name, or an
  // empty string when nothing is held for it or the file could not be written (counted).
  std::string on_alert(const FlowKey& key, std::uint64_t flow_id, Timestamp first_seen);
  // The connection ended: release its buffer or close its file.
  void on_close(const FlowKey& key);
  // Whether frames of `key` are being kept (buffered or written).
  bool holds(const FlowKey& key) const { return entries_.count(key) != 0; }

  const EvidenceCounters& counters() const { return counters_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  struct Entry {
    std::vector<std::uint8_t> records;  // pcap record headers + frames, until an alert
    std::uint32_t link_type = 0;
    std::size_t bytes_kept = 0;         // held + written, against max_bytes_per_flow
    bool capped = false;
    std::unique_ptr<std::FILE, FileCloser> file;  // after an alert
    std::string file_name;
    std::list<FlowKey>::iterator lru;   // valid while !file
  };

  explicit EvidenceStore(EvidenceConfig config) : config_(std::move(config)) {}
  void evict_until_fits(std::size_t incoming);
  void drop_entry(std::unordered_map<FlowKey, Entry, FlowKeyHash>::iterator it);
  void rotate();

  EvidenceConfig config_;
  EvidenceCounters counters_;
  std::unordered_map<FlowKey, Entry, FlowKeyHash> entries_;
  std::list<FlowKey> lru_;             // buffered (not alerting) flows, least recently used first
  std::deque<std::string> files_;      // names in dir, oldest first
};

}  // namespace rcptwatch::fleet
