// TCP connection tracker: flow table (canonical 5-tuple), client/server roles, one stream
// reassembler per direction, idle timeouts and hard caps. Feeds a StreamConsumer per
// connection. Time is packet time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/types.h"
#include "decode/decoder.h"
#include "flow/connection.h"

namespace rcptwatch::flow {

// What one connection is planned at when a memory cap sets max_flows (--memory-cap): an
// idle SMTP connection (flow entry, two reassemblers, SMTP session and its queues) measures
// about 2.4 KB in bench/flow_memory; a SYN-only one about 0.6 KB. Rounded up.
inline constexpr std::uint64_t kPlannedBytesPerFlow = 2560;

struct TrackerConfig {
  std::vector<std::uint16_t> server_ports{25, 587, 2525};  // only these connections are tracked
  std::uint32_t max_flows = 1u << 20;
  std::uint64_t max_buffered_bytes_per_direction = 1u << 20;
  std::uint64_t max_buffered_bytes_total = 256u << 20;
  std::int64_t syn_timeout_usec = 30'000'000;
  std::int64_t established_timeout_usec = 600'000'000;
  std::int64_t closed_timeout_usec = 10'000'000;
  // Last delivered bytes kept per direction to spot retransmissions that differ from them
  // (grows only as data flows; 0 turns the check off for already delivered data).
  std::uint32_t conflict_tail_bytes = 4096;
  // Flow ids are first_flow_id, first_flow_id + flow_id_step, ...: with several workers
  // (--workers) each tracker takes its own residue, so ids stay unique per sensor.
  std::uint64_t first_flow_id = 1;
  std::uint64_t flow_id_step = 1;
};

struct TrackerCounters {
  std::uint64_t segments = 0;          // TCP segments offered
  std::uint64_t segments_ignored = 0;  // not on a watched port
  std::uint64_t flows_created = 0;
  std::uint64_t flows_active = 0;
  std::uint64_t flows_closed = 0;
  std::uint64_t flows_evicted_idle = 0;   // idle timeout
  std::uint64_t flows_evicted_cap = 0;    // max_flows reached; oldest-idle evicted
  std::uint64_t reused = 0;               // 4-tuple reused after close or by a new SYN
  std::uint64_t gaps = 0;
  std::uint64_t gap_bytes = 0;
  std::uint64_t retransmitted_bytes = 0;
  std::uint64_t overlaps = 0;
  std::uint64_t overlap_conflicts = 0;
  std::uint64_t out_of_order_segments = 0;
  std::uint64_t buffer_cap_drops = 0;     // bytes dropped because a buffer cap was hit
  std::uint64_t buffered_bytes = 0;       // currently held out-of-order bytes, all flows
  std::uint64_t gaps_forced_total_cap = 0;  // gaps forced by max_buffered_bytes_total
  std::uint64_t flows_flushed = 0;          // closed by flush() at end of input
  std::uint64_t segments_without_flow = 0;  // RST, or no SYN and no payload, for no flow
  std::uint64_t segments_after_close = 0;   // late segments of a closed connection, dropped
};

class TcpTracker {
 public:
  TcpTracker(TrackerConfig config, StreamConsumerFactory& factory);
  ~TcpTracker();
  TcpTracker(const TcpTracker&) = delete;
  TcpTracker& operator=(const TcpTracker&) = delete;

  // One decoded segment at packet time `ts`. Also expires idle flows as time advances.
  void process(const decode::TcpSegment& segment, Timestamp ts);
  // Packet time has reached `ts` without a segment for this tracker: expire what is due.
  void advance_to(Timestamp ts);
  // End of input: deliver what is buffered (gaps where bytes are missing) and close all.
  void flush(Timestamp ts);

  const TrackerCounters& counters() const;

  // Bytes of one flow-table entry (excluding buffered data and the conflict tail).
  static std::size_t flow_entry_bytes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rcptwatch::flow
