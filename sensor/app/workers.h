// Worker threads (--workers N): the capture thread reads frames and hands each one, copied
// into a per-worker ring, to the worker that owns its IP address pair; every worker runs a
// Pipeline of its own. In a replay the capture thread is worker 0 itself (its frames are
// processed where they are read, not copied), so N workers are N threads. Both directions of a connection and every fragment of a datagram share
// the address pair, so they meet in one worker, and IP reassembly stays in the decoder.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alert/sink.h"
#include "app/pipeline.h"
#include "capture/packet_source.h"
#include "common/types.h"
#include "decode/decoder.h"
#include "detect/matcher.h"
#include "learn/observations.h"

namespace rcptwatch::app {

// What the capture thread needs to know about a frame to route it.
struct FrameRoute {
  bool has_ip = false;     // false: link layer or IP header not read; goes to worker 0
  std::uint64_t hash = 0;  // symmetric: the same for (a, b) and (b, a)
  bool dns_udp = false;    // an unfragmented UDP datagram from or to port 53
  // An unfragmented TCP segment (6) or UDP datagram (17) whose ports were read; 0 otherwise
  // (fragments, other protocols, IPv6 extension headers, a cut header).
  std::uint8_t l4 = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};

// Reads the link layer (Ethernet with 802.1Q/QinQ tags, raw IP, BSD null/loop, Linux SLL and
// SLL2) and the IP header. When `udp` is given and the frame is DNS over UDP, fills it (its
// payload points into `frame`).
FrameRoute route_frame(std::uint32_t link_type, Bytes frame, decode::UdpDatagram* udp = nullptr);

// A single-producer single-consumer ring of variable-length records in one fixed buffer:
// no allocation per frame, records read in place by the consumer.
class FrameRing {
 public:
  enum class Kind : std::uint8_t { Frame, LearnDns, Stats, Reload, Finish, Wrap, LearnSync, Learned, Tick };
  struct Header {
    std::uint32_t length = 0;  // whole record, header included, multiple of 8
    Kind kind = Kind::Frame;
    std::uint8_t pad[3] = {};
    std::int64_t ts = 0;
    std::uint32_t link_type = 0;
    std::uint32_t wire_length = 0;
    std::uint32_t data_length = 0;
    std::uint32_t pad2 = 0;
  };
  struct Record {
    Header header;
    Bytes data;
  };

  explicit FrameRing(std::size_t capacity_bytes);
  // Largest payload a record can carry.
  std::size_t max_payload() const { return capacity_ / 2 - sizeof(Header); }

  // Producer. try_push fails when the ring has no room; push waits for it. A frame record
  // wakes a sleeping consumer at the latest with the 64th frame after it or at flush(); any
  // other record wakes it at once.
  bool try_push(Kind kind, const capture::Packet& p);
  void push(Kind kind, const capture::Packet& p);
  void flush();
  // Consumer: waits for the next record; it stays valid until release().
  Record wait_front();
  void release();
  // Futex wake-ups either side has made (each a system call); for tests.
  std::uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  bool push_impl(Kind kind, const capture::Packet& p, bool wait);
  // Sleeps on `flag` (set to 1 first) unless `ready` holds once the flag is visible. The other
  // side publishes its index, then (wake_if_sleeping) fences and looks at the flag: with both
  // sides fenced, either the sleeper sees the new index or the waker sees the flag.
  template <typename Ready>
  void sleep_unless(std::atomic<std::uint32_t>& flag, Ready ready);
  void wake_if_sleeping(std::atomic<std::uint32_t>& flag);
  std::size_t capacity_;
  std::unique_ptr<std::byte[]> buffer_;
  // Each index is written by one side and read by the other only when that side's cached
  // copy says the ring is full (producer) or empty (consumer): the lines do not bounce per
  // record. The sleep flags have lines of their own, read on every check, written only around
  // a sleep.
  alignas(64) std::atomic<std::uint64_t> head_{0};  // written by the producer
  std::uint64_t cached_tail_ = 0;                   // producer: tail_ when last read
  unsigned unflushed_ = 0;                          // producer: frames since the last wake check
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // written by the consumer
  std::uint64_t cached_head_ = 0;                   // consumer: head_ when last read
  std::uint64_t front_end_ = 0;                     // consumer: where release() moves tail_ to
  unsigned unchecked_ = 0;                          // consumer: releases since the last wake check
  alignas(64) std::atomic<std::uint32_t> consumer_sleeping_{0};  // futex word
  alignas(64) std::atomic<std::uint32_t> producer_sleeping_{0};  // futex word
  std::atomic<std::uint64_t> wakeups_{0};
};

struct WorkerStats {
  std::uint64_t frames = 0;         // frames handed to this worker
  std::uint64_t dns_learned = 0;    // DNS datagrams of other workers it learned from
  std::uint64_t ring_full_drops = 0;  // live capture: frames dropped because its ring was full
  std::uint64_t oversized_drops = 0;  // frames larger than a ring record (counted, not cut)
};

// Serialises every write into the one alert pipeline (de-duplication, outputs) the workers
// and the main thread share.
class LockedSink final : public alert::AlertSink {
 public:
  explicit LockedSink(alert::AlertSink& next) : next_(next) {}
  void write_alert(const alert::Alert& a) override {
    std::lock_guard lock(mutex_);
    next_.write_alert(a);
  }
  void write_event_json(std::string_view json) override {
    std::lock_guard lock(mutex_);
    next_.write_event_json(json);
  }
  void flush() override {
    std::lock_guard lock(mutex_);
    next_.flush();
  }
  template <typename F>
  void with_lock(F&& f) {
    std::lock_guard lock(mutex_);
    f();
  }

 private:
  std::mutex mutex_;
  alert::AlertSink& next_;
};

class WorkerPool {
 public:
  static constexpr std::size_t kRingBytes = 8u << 20;  // per worker

  // `config` is split: caps that bound memory (flows, buffers, fragments, evidence) are
  // divided among the workers, and each worker takes its own flow id residue.
  // block_when_full: replay waits for a full ring; live capture drops and counts.
  WorkerPool(unsigned workers, bool block_when_full, const PipelineConfig& config,
             std::shared_ptr<const detect::Matcher> matcher, alert::AlertSink& sink);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Capture thread only. end_batch() after a batch of dispatch() calls wakes the workers that
  // sleep with frames waiting (dispatch alone wakes them every 64 frames), and tells each
  // worker the packet time `now` once it has moved on by a second, so that a worker whose
  // share of the traffic is quiet still closes its idle connections on time.
  void dispatch(const capture::Packet& packet);
  void end_batch(Timestamp now);
  // Every worker switches to `matcher` at this point of the packet stream.
  void reload(std::shared_ptr<const detect::Matcher> matcher);
  // --learn: every worker's observations up to this point of the packet stream, merged (the
  // workers reach it and hand theirs over; this thread waits for all of them).
  learn::ObservationBatch take_observations();
  // Every worker switches to this learned matcher at this point of the packet stream.
  void set_learned_matcher(std::shared_ptr<const detect::Matcher> matcher);
  // One stats event per worker (its Pipeline::stats_json); `source` is counted by worker 0.
  std::vector<std::string> collect_stats(const capture::SourceStats& source, Timestamp now);
  // End of input: every worker flushes its connections at `last_ts`; then the threads end.
  void finish(Timestamp last_ts);

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }
  std::vector<WorkerStats> worker_stats() const;
  // Read the pipelines' counters: only after finish().
  std::uint64_t recipients_checked() const;
  std::uint64_t alerts() const;

  // The per-worker memory caps for `workers` workers (exposed for tests).
  static PipelineConfig worker_config(const PipelineConfig& config, unsigned workers, unsigned index);

 private:
  struct Worker;
  void run(Worker& w);
  // Does what a record asks of worker `w`; false for Finish.
  bool apply(Worker& w, FrameRing::Kind kind, const capture::Packet& p);
  // Hands a record to `w` (its ring, or apply() on this thread); false if the ring was full
  // and `wait` is false.
  bool send(Worker& w, FrameRing::Kind kind, const capture::Packet& p, bool wait);
  void broadcast(FrameRing::Kind kind, const capture::Packet& p);
  void wait_for_replies();

  bool block_when_full_;
  // Replay with two or more workers: traffic no pipeline follows (TCP on no tracked port, UDP
  // but DNS) stays on the capture thread's worker 0, uncopied; the rest is shared out by the
  // address pair, worker 0 taking half a share (it also reads, routes and copies).
  bool untracked_on_capture_thread_ = false;
  std::bitset<65536> tracked_ports_;  // TCP ports a Pipeline's tracker follows
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex control_mutex_;                         // guards the four fields below
  std::shared_ptr<const detect::Matcher> next_matcher_;
  // Per worker, learned matchers not yet taken, in order: one per Learned record in its ring.
  std::vector<std::deque<std::shared_ptr<const detect::Matcher>>> next_learned_;
  std::vector<std::string> stats_replies_;
  std::vector<learn::ObservationBatch> learn_replies_;
  std::atomic<unsigned> replies_pending_{0};  // workers yet to answer a Stats or LearnSync
  bool finished_ = false;
};

// Default --workers: cores - 1 (one core for the capture thread), at least 1.
unsigned default_worker_count();

}  // namespace rcptwatch::app
