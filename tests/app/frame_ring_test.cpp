// The worker ring (--workers): every record comes out whole and in order across wraps, full
// rings and sleeps on either side, and a side calls the kernel to wake the other only when it
// sleeps, not once per record. And the pool: a replay's worker 0 is the capture thread.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <thread>
#include <vector>

#include "app/workers.h"
#include "detect/matcher.h"
#include "detect/rules.h"

namespace rcptwatch::app {
namespace {

std::size_t size_of(std::uint64_t i) { return static_cast<std::size_t>((i * 7919) % 1500); }
std::uint8_t byte_of(std::uint64_t i, std::size_t j) { return static_cast<std::uint8_t>(i * 31 + j); }

// The producer pushes `count` frames and then Finish, pausing `pause` after every
// `pause_every` frames (so the consumer finds the ring empty and sleeps); the consumer pauses
// likewise when `consumer_pauses` (so the producer finds the ring full and sleeps).
void run_ring(std::size_t ring_bytes, std::uint64_t count, std::uint64_t pause_every,
              std::chrono::microseconds pause, bool consumer_pauses, std::uint64_t* wakeups) {
  FrameRing ring(ring_bytes);
  std::uint64_t seen = 0;
  bool finished = false;
  std::thread consumer([&] {
    for (;;) {
      const FrameRing::Record r = ring.wait_front();
      if (r.header.kind == FrameRing::Kind::Finish) {
        finished = true;
        ring.release();
        return;
      }
      ASSERT_EQ(r.header.kind, FrameRing::Kind::Frame);
      ASSERT_EQ(r.header.ts, static_cast<std::int64_t>(seen));
      ASSERT_EQ(r.data.size(), size_of(seen)) << "record " << seen;
      for (std::size_t j = 0; j < r.data.size(); ++j) ASSERT_EQ(r.data[j], byte_of(seen, j)) << seen;
      ++seen;
      ring.release();
      if (consumer_pauses && seen % pause_every == 0) std::this_thread::sleep_for(pause);
    }
  });
  std::vector<std::uint8_t> frame;
  for (std::uint64_t i = 0; i < count; ++i) {
    frame.resize(size_of(i));
    for (std::size_t j = 0; j < frame.size(); ++j) frame[j] = byte_of(i, j);
    capture::Packet p;
    p.ts = Timestamp{static_cast<std::int64_t>(i)};
    p.data = Bytes(frame.data(), frame.size());
    ring.push(FrameRing::Kind::Frame, p);
    if (!consumer_pauses && (i + 1) % pause_every == 0) {
      ring.flush();  // as the capture loop does at the end of a batch
      std::this_thread::sleep_for(pause);
    }
  }
  ring.push(FrameRing::Kind::Finish, capture::Packet{});
  consumer.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(seen, count);
  *wakeups = ring.wakeups();
}

TEST(FrameRing, RecordsComeOutWholeAndInOrderWhenTheConsumerSleeps) {
  std::uint64_t wakeups = 0;
  // 30 pauses of 2 ms, far longer than the 200 us nap: the consumer sleeps in each.
  run_ring(64 << 10, 30000, 1000, std::chrono::milliseconds(2), false, &wakeups);
  EXPECT_GE(wakeups, 1u);              // it slept, and was woken (else the test would not end)
  EXPECT_LE(wakeups, 30000u / 16);     // per pause and per full ring, not per record
}

TEST(FrameRing, RecordsComeOutWholeAndInOrderWhenTheProducerWaitsForRoom) {
  std::uint64_t wakeups = 0;
  // A 16 KiB ring holds about 20 records: the producer finds it full at every consumer pause.
  run_ring(16 << 10, 20000, 500, std::chrono::milliseconds(2), true, &wakeups);
  EXPECT_GE(wakeups, 1u);
  // At most once per time the consumer drains the ring (~20 records) or 64 records.
  EXPECT_LE(wakeups, 20000u / 16);
}

TEST(FrameRing, AFastConsumerIsNotWokenPerRecord) {
  std::uint64_t wakeups = 0;
  // No pauses: 200,000 records through a ring that wraps ~2,000 times.
  run_ring(128 << 10, 200000, ~std::uint64_t{0}, std::chrono::microseconds(0), false, &wakeups);
  EXPECT_LE(wakeups, 200000u / 64 + 10);
}

std::size_t threads_of_this_process() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

class NullSink final : public alert::AlertSink {
 public:
  void write_alert(const alert::Alert&) override { ++alerts; }
  void write_event_json(std::string_view) override {}
  void flush() override {}
  int alerts = 0;
};

// Replay (block_when_full) runs worker 0 on the capture thread: N workers start N - 1 threads,
// and its frames are judged at once. Live capture keeps a thread per worker.
TEST(WorkerPool, AReplaysFirstWorkerIsTheCaptureThread) {
  auto rules = detect::parse_rules("protect nato.int\n", "<test>");
  ASSERT_TRUE(rules);
  auto matcher = std::make_shared<const detect::Matcher>(*rules);
  for (const bool replay : {true, false}) {
    NullSink sink;
    const std::size_t before = threads_of_this_process();
    WorkerPool pool(3, replay, PipelineConfig{}, matcher, sink);
    EXPECT_EQ(threads_of_this_process() - before, replay ? 2u : 3u) << (replay ? "replay" : "live");
    pool.finish(Timestamp{});
    // A joined thread can linger in /proc for a moment after its join returns.
    for (int i = 0; i < 1000 && threads_of_this_process() != before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(threads_of_this_process(), before);
  }
}

// An Ethernet/IPv4/TCP frame between 10.0.0.a:sport and 10.0.0.b:dport.
std::vector<std::uint8_t> tcp_frame(std::uint8_t a, std::uint8_t b, std::uint16_t sport, std::uint16_t dport) {
  std::vector<std::uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[14 + 3] = 40;
  f[14 + 8] = 64;
  f[14 + 9] = 6;
  f[14 + 12] = 10;
  f[14 + 15] = a;
  f[14 + 16] = 10;
  f[14 + 19] = b;
  f[34] = static_cast<std::uint8_t>(sport >> 8);
  f[35] = static_cast<std::uint8_t>(sport);
  f[36] = static_cast<std::uint8_t>(dport >> 8);
  f[37] = static_cast<std::uint8_t>(dport);
  f[14 + 20 + 12] = 0x50;  // data offset 5
  f[14 + 20 + 13] = 0x10;  // ACK
  return f;
}

// A frame of tcp_frame's as the capture hands it out, at packet time `usec`.
capture::Packet packet_of(const std::vector<std::uint8_t>& f, std::int64_t usec) {
  capture::Packet p;
  p.ts = Timestamp{usec};
  p.link_type = 1;
  p.wire_length = static_cast<std::uint32_t>(f.size());
  p.data = Bytes(f.data(), f.size());
  return p;
}

std::shared_ptr<const detect::Matcher> nato_matcher() {
  auto rules = detect::parse_rules("protect nato.int\n", "<test>");
  EXPECT_TRUE(rules);
  return std::make_shared<const detect::Matcher>(*rules);
}

// In a replay, traffic no pipeline follows stays with the capture thread's worker 0 (it is
// only counted, and every pipeline counts alike); tracked traffic is shared out by the pair.
TEST(WorkerPool, AReplayKeepsUntrackedTrafficOnTheCaptureThread) {
  const auto matcher = nato_matcher();
  PipelineConfig config;
  config.tracker.server_ports = {25};
  for (const bool replay : {true, false}) {
    NullSink sink;
    WorkerPool pool(2, replay, config, matcher, sink);
    for (std::uint8_t host = 1; host <= 40; ++host) {
      for (const std::uint16_t port : {std::uint16_t{443}, std::uint16_t{25}}) {
        const auto f = tcp_frame(host, 200, 40000, port);
        pool.dispatch(packet_of(f, 1'000'000));
      }
    }
    pool.end_batch(Timestamp{1'000'000});
    pool.finish(Timestamp{1'000'000});
    const std::vector<WorkerStats> stats = pool.worker_stats();
    ASSERT_EQ(stats.size(), 2u);
    EXPECT_EQ(stats[0].frames + stats[1].frames, 80u);
    if (replay) {
      // All 40 frames to port 443, and about a third of the 40 to port 25 (half a share: the
      // capture thread also reads, routes and copies).
      EXPECT_GE(stats[0].frames, 40u + 5u) << stats[0].frames;
      EXPECT_LE(stats[0].frames, 40u + 22u);
    } else {
      EXPECT_GE(stats[1].frames, 20u);  // live: everything by the pair
    }
  }
}

// A worker whose share of the traffic goes quiet still closes its idle connections: the capture
// thread tells it the packet time (a Tick) at the end of a batch once a second has passed.
TEST(WorkerPool, AQuietWorkerStillExpiresIdleConnections) {
  const auto matcher = nato_matcher();
  PipelineConfig config;
  config.tracker.server_ports = {25};
  NullSink sink;
  WorkerPool pool(2, true, config, matcher, sink);
  auto send = [&](const std::vector<std::uint8_t>& f, std::int64_t usec) { pool.dispatch(packet_of(f, usec)); };
  // A SYN to port 25 from a host whose pair goes to worker 1 (the thread, not the capture's).
  std::uint8_t host = 1;
  for (;; ++host) {
    const auto f = tcp_frame(host, 200, 40000, 25);
    if (route_frame(1, Bytes(f.data(), f.size())).hash % 2 == 1) break;
  }
  auto syn = tcp_frame(host, 200, 40000, 25);
  syn[14 + 20 + 13] = 0x02;
  send(syn, 1'000'000);
  pool.end_batch(Timestamp{1'000'000});
  // Then only traffic no pipeline follows, for ten minutes of packet time.
  for (std::int64_t s = 2; s <= 600; s += 2) {
    send(tcp_frame(7, 8, 40000, 443), s * 1'000'000);
    pool.end_batch(Timestamp{s * 1'000'000});
  }
  pool.finish(Timestamp{600'000'000});
  std::uint64_t evicted_idle = 0;
  for (const std::string& json : pool.collect_stats(capture::SourceStats{}, Timestamp{600'000'000})) {
    const std::size_t at = json.find("\"flows_evicted_idle\":");
    ASSERT_NE(at, std::string::npos) << json;
    evicted_idle += std::stoull(json.substr(at + 21));
  }
  EXPECT_EQ(evicted_idle, 1u);  // by the 30 s SYN timeout, not the final flush
}

}  // namespace
}  // namespace rcptwatch::app
