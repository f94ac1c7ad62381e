// Per-direction TCP byte-stream reassembler: turns segments in any order (retransmitted,
// overlapping, lost, wrapped around 2^32) into an ordered stream of data, gap and conflict
// events. Pure: knows nothing of capture, flows or time; the caller owns one per direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/types.h"

namespace rcptwatch::reassembly {

// RFC 1982 serial-number arithmetic, the only place sequence numbers are compared: the
// position of `to` relative to `from`, in (-2^31, 2^31]. A distance of exactly 2^31 is
// undefined in RFC 1982; we call it "ahead" so a stream that jumps never stalls.
constexpr std::int64_t seq_distance(std::uint32_t from, std::uint32_t to) {
  const std::uint32_t d = to - from;
  return d <= 0x8000'0000u ? static_cast<std::int64_t>(d)
                           : static_cast<std::int64_t>(d) - (std::int64_t{1} << 32);
}
constexpr bool seq_before(std::uint32_t a, std::uint32_t b) { return seq_distance(b, a) < 0; }

// Receives one direction's stream in order. Views are valid only during the call.
class StreamSink {
 public:
  virtual void on_data(Bytes data) = 0;
  // `length` bytes at the current end of the stream were never seen.
  virtual void on_gap(std::uint64_t length) = 0;
  // A retransmission carried other bytes than those kept: `alternative` starts
  // `offset_back` bytes before the current end of the delivered stream.
  virtual void on_conflict(Bytes alternative, std::uint64_t offset_back) = 0;

 protected:
  ~StreamSink() = default;
};

struct ReassemblyLimits {
  // Out-of-order bytes held per direction; beyond it we stop waiting for the hole (gap).
  std::uint64_t max_buffered_bytes = 1u << 20;
  // Out-of-order segments (and conflict copies) held per direction. Each costs a map node and
  // a heap block beyond its payload, so a flood of one-byte segments under the byte cap would
  // otherwise hold ~100 bytes of memory per byte counted (a million of them: 120 MiB).
  std::uint32_t max_buffered_segments = 8192;
  // Last delivered bytes kept to detect retransmissions that differ from what was delivered.
  // 0 disables the check for delivered data (buffered data is always compared).
  std::uint32_t delivered_tail_bytes = 4096;
};

// May be shared by many reassemblers (a tracker sums all its flows into one).
struct ReassemblyCounters {
  std::uint64_t gaps = 0;
  std::uint64_t gap_bytes = 0;
  std::uint64_t retransmitted_bytes = 0;   // bytes trimmed because already seen
  std::uint64_t overlaps = 0;              // segments that overlapped seen data
  std::uint64_t overlap_conflicts = 0;     // ... with different bytes
  std::uint64_t out_of_order_segments = 0; // segments (partly) buffered
  std::uint64_t buffer_cap_drops = 0;      // missing bytes given up on because of a cap
  std::uint64_t buffered_bytes = 0;        // gauge: out-of-order bytes held now
};

// A tail (the last delivered bytes, for comparing retransmissions) grows in two steps at most:
// this many bytes, then ReassemblyLimits::delivered_tail_bytes. Short sessions never pay for
// the full ring, and doubling from a few bytes cost an allocation for almost every packet of a
// command-sized exchange.
inline constexpr std::size_t kTailFirstBytes = 512;

// A tail's storage: `capacity` bytes, left uninitialised (a tail writes before it reads).
struct TailBuffer {
  std::unique_ptr<std::uint8_t[]> bytes;
  std::uint32_t capacity = 0;
};

// Tail buffers of ended streams, for new ones: without it every connection allocated and freed
// two or three tails. One per tracker, shared by all its reassemblers (single-threaded). It
// keeps at most kMaxSpare buffers of each step, so what it holds is bounded by what that many
// streams held at once anyway.
class TailPool {
 public:
  static constexpr std::size_t kMaxSpare = 512;

  TailPool() = default;
  TailPool(const TailPool&) = delete;
  TailPool& operator=(const TailPool&) = delete;

  // A buffer of at least `capacity` bytes.
  TailBuffer take(std::uint32_t capacity);
  // Keeps `buffer` for a later take(), or frees it when the pool is full; `buffer` is left
  // without storage.
  void give(TailBuffer& buffer);
  std::size_t spare() const { return first_.size() + full_.size(); }

 private:
  std::vector<TailBuffer>& spares_for(std::uint32_t capacity) {
    return capacity <= kTailFirstBytes ? first_ : full_;
  }

  std::vector<TailBuffer> first_;  // capacity <= kTailFirstBytes
  std::vector<TailBuffer> full_;
};

class StreamReassembler {
 public:
  // `limits`, `counters` and `pool` must outlive the reassembler (shared, to keep it small).
  // Without a pool, tails come from the heap and go back to it.
  StreamReassembler(const ReassemblyLimits& limits, ReassemblyCounters& counters,
                    TailPool* pool = nullptr);
  ~StreamReassembler();
  StreamReassembler(const StreamReassembler&) = delete;
  StreamReassembler& operator=(const StreamReassembler&) = delete;

  // From a SYN: the next expected byte is isn + 1. Ignored once the stream has started.
  void set_initial_sequence(std::uint32_t isn);
  bool started() const { return started_; }

  // One segment's payload at sequence `seq`. Without a prior SYN the first segment starts the
  // stream (midstream pickup); bytes before the start are treated as already delivered.
  // In-order bytes reach the sink as views of `payload` (no copy).
  void insert(std::uint32_t seq, Bytes payload, StreamSink& sink);

  // Stops waiting for the hole before the lowest buffered segment: delivers a gap up to it,
  // then everything contiguous. Returns false when nothing is buffered. `because_of_cap`
  // counts the gap in buffer_cap_drops (callers enforcing a shared cap use it too).
  bool skip_to_buffered(StreamSink& sink, bool because_of_cap);

  // End of stream: delivers everything buffered, with gaps for the missing ranges.
  void flush(StreamSink& sink);

  // Back to the not-started state, releasing all memory (without delivering anything).
  void reset();

  std::uint64_t buffered_bytes() const { return buffered_; }
  // Out-of-order entries held now (segments plus conflicting copies), bounded by
  // max_buffered_segments after every insert().
  std::size_t buffered_segments() const {
    return ooo_ ? ooo_->segments.size() + ooo_->conflicts.size() : 0;
  }
  // Stream offset of the next byte to deliver = data + gap bytes delivered so far.
  std::uint64_t delivered_offset() const { return next_; }
  // Sequence number of the next byte to deliver (meaningful once started()).
  std::uint32_t next_sequence() const {
    return base_seq_ + static_cast<std::uint32_t>(next_ & 0xFFFF'FFFFu);
  }

 private:
  struct Conflict {
    std::uint64_t offset;
    std::vector<std::uint8_t> bytes;
  };
  // Only flows that actually reorder pay for this.
  struct OutOfOrder {
    std::map<std::uint64_t, std::vector<std::uint8_t>> segments;  // disjoint, all > next_
    std::vector<Conflict> conflicts;  // alternatives to buffered bytes, sent once delivered
  };

  void trim_delivered(std::int64_t& start, Bytes& payload, StreamSink& sink);
  void buffer_or_deliver(std::uint64_t start, Bytes payload, StreamSink& sink);
  void deliver(Bytes data, StreamSink& sink);
  void drain(StreamSink& sink);
  void emit_gap(std::uint64_t length, bool because_of_cap, StreamSink& sink);
  void add_buffered(std::uint64_t n);
  void sub_buffered(std::uint64_t n);
  void release_out_of_order_if_empty();

  void tail_append(Bytes data);
  TailBuffer empty_tail(std::uint32_t capacity);
  void grow_tail(std::uint32_t capacity);
  void release_tail();
  std::size_t tail_size() const { return tail_size_; }
  std::uint8_t tail_byte_back(std::uint64_t back) const;  // byte at next_ - back

  const ReassemblyLimits& limits_;
  ReassemblyCounters& counters_;
  TailPool* pool_;
  std::unique_ptr<OutOfOrder> ooo_;
  TailBuffer tail_;  // the last delivered bytes; a ring once tail_size_ reaches the cap
  std::uint64_t next_ = 0;          // stream offset of the next byte to deliver
  std::uint64_t buffered_ = 0;      // bytes in ooo_ (segments and conflict alternatives)
  std::uint32_t base_seq_ = 0;      // sequence number of stream offset 0
  std::uint32_t tail_size_ = 0;     // bytes of tail_ in use
  std::uint32_t tail_head_ = 0;     // once the ring is full: index of the oldest byte
  bool started_ = false;
};

}  // namespace rcptwatch::reassembly
