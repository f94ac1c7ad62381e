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
    EXPECT_EQ(threads_of_this_process(), before);
  }
}

}  // namespace
}  // namespace rcptwatch::app
