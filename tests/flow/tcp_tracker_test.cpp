// Tests for the TCP tracker: roles, capture quality, per-direction delivery, closing and
// reuse of 4-tuples, idle expiry, caps and eviction order. A fake consumer factory records
// every event as one line of text so each test asserts the whole conversation.
#include "flow/tcp_tracker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace rcptwatch::flow {
namespace {

namespace tf = decode::tcp_flag;

constexpr std::uint8_t kSyn = tf::kSyn;
constexpr std::uint8_t kSynAck = tf::kSyn | tf::kAck;
constexpr std::uint8_t kAck = tf::kAck;
constexpr std::uint8_t kPshAck = tf::kPsh | tf::kAck;
constexpr std::uint8_t kFinAck = tf::kFin | tf::kAck;
constexpr std::uint8_t kRst = tf::kRst;

IpAddress ip(const char* text) {
  std::uint8_t buf[16] = {};
  if (std::string(text).find(':') != std::string::npos) {
    EXPECT_EQ(inet_pton(AF_INET6, text, buf), 1) << text;
    return IpAddress::v6(buf);
  }
  EXPECT_EQ(inet_pton(AF_INET, text, buf), 1) << text;
  return IpAddress::v4(buf);
}

using Events = std::vector<std::string>;

std::string endpoint(const IpAddress& a, std::uint16_t port) {
  return a.to_string() + ":" + std::to_string(port);
}

class RecordingConsumer final : public StreamConsumer {
 public:
  RecordingConsumer(Events& events, const ConnectionInfo& info) : events_(events), info_(info) {}
  void on_data(StreamDir dir, Bytes data, Timestamp) override {
    events_.push_back(prefix(dir) + std::string(data.begin(), data.end()));
  }
  void on_gap(StreamDir dir, std::uint64_t length, Timestamp) override {
    events_.push_back(prefix(dir) + "[gap " + std::to_string(length) + "]");
  }
  void on_conflict(StreamDir dir, Bytes alt, std::uint64_t back, Timestamp) override {
    events_.push_back(prefix(dir) + "[conflict " + std::string(alt.begin(), alt.end()) + "@" +
                      std::to_string(back) + "]");
  }
  void on_close(Timestamp ts) override {
    // info must still be valid here; quality is what the alert would report.
    events_.push_back("close #" + std::to_string(info_.id) + " " +
                      std::string(to_string(info_.quality())) + " t=" +
                      std::to_string(ts.usec / 1'000'000));
  }

 private:
  std::string prefix(StreamDir dir) const {
    return "#" + std::to_string(info_.id) + (dir == StreamDir::ToServer ? " c> " : " s> ");
  }
  Events& events_;
  const ConnectionInfo& info_;
};

class RecordingFactory final : public StreamConsumerFactory {
 public:
  std::unique_ptr<StreamConsumer> open(const ConnectionInfo& info) override {
    events.push_back("open #" + std::to_string(info.id) + " " +
                     endpoint(info.client_ip, info.client_port) + " > " +
                     endpoint(info.server_ip, info.server_port));
    return std::make_unique<RecordingConsumer>(events, info);
  }
  // Kept apart from `events`: what each test expects there stays the same.
  void recycle(const ConnectionInfo& info, std::unique_ptr<StreamConsumer> consumer) override {
    const bool closed_first =
        !events.empty() && events.back().rfind("close #" + std::to_string(info.id) + " ", 0) == 0;
    recycled.push_back({info.id, closed_first, consumer != nullptr});
  }
  struct Recycled {
    std::uint64_t id;
    bool closed_first;  // on_close() was the consumer's last event before
    bool consumer;      // the consumer was handed over
    bool operator==(const Recycled&) const = default;
  };
  Events events;
  std::vector<Recycled> recycled;
};

class TrackerTest : public ::testing::Test {
 protected:
  TcpTracker& tracker() {
    if (!tracker_) tracker_ = std::make_unique<TcpTracker>(config, factory);
    return *tracker_;
  }

  // Sends one segment at second `t`.
  void send(std::int64_t t, const char* src, std::uint16_t sport, const char* dst,
            std::uint16_t dport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
            std::string payload = "") {
    payloads_.push_back(std::move(payload));
    decode::TcpSegment seg;
    seg.src = ip(src);
    seg.dst = ip(dst);
    seg.src_port = sport;
    seg.dst_port = dport;
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    const std::string& p = payloads_.back();
    seg.payload = Bytes(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
    tracker().process(seg, Timestamp::from_seconds(t));
  }

  // The usual conversation: client 10.0.0.1:40000 (ISN 1000), server 10.0.0.2:25 (ISN 5000).
  void handshake(std::int64_t t, const char* c = "10.0.0.1", std::uint16_t cport = 40000,
                 const char* s = "10.0.0.2", std::uint32_t cisn = 1000) {
    send(t, c, cport, s, 25, cisn, 0, kSyn);
    send(t, s, 25, c, cport, 5000, cisn + 1, kSynAck);
    send(t, c, cport, s, 25, cisn + 1, 5001, kAck);
  }

  const TrackerCounters& counters() { return tracker().counters(); }

  TrackerConfig config;
  RecordingFactory factory;
  std::unique_ptr<TcpTracker> tracker_;
  std::deque<std::string> payloads_;
};

TEST(CaptureQualityNames, Table) {
  EXPECT_EQ(to_string(CaptureQuality::Complete), "complete");
  EXPECT_EQ(to_string(CaptureQuality::Midstream), "midstream");
  EXPECT_EQ(to_string(CaptureQuality::OneSided), "one_sided");
  ConnectionInfo info;
  EXPECT_EQ(info.quality(), CaptureQuality::Midstream);
  info.server_data_seen = true;
  EXPECT_EQ(info.quality(), CaptureQuality::Midstream);
  info.syn_seen = true;
  EXPECT_EQ(info.quality(), CaptureQuality::Complete);
  info.server_data_seen = false;
  EXPECT_EQ(info.quality(), CaptureQuality::OneSided);
}

TEST_F(TrackerTest, HandshakeAndDataBothWaysThenFin) {
  handshake(1);
  send(1, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 1001, kPshAck, "220 hi\r\n");
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5009, kPshAck, "EHLO x\r\n");
  send(2, "10.0.0.2", 25, "10.0.0.1", 40000, 5009, 1009, kPshAck, "250 ok\r\n");
  send(3, "10.0.0.1", 40000, "10.0.0.2", 25, 1009, 5017, kFinAck);
  EXPECT_EQ(counters().flows_active, 1u);
  send(3, "10.0.0.2", 25, "10.0.0.1", 40000, 5017, 1010, kFinAck);
  send(3, "10.0.0.1", 40000, "10.0.0.2", 25, 1010, 5018, kAck);  // last ACK: tombstone eats it
  EXPECT_EQ(factory.events, (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25",
                                    "#1 s> 220 hi\r\n", "#1 c> EHLO x\r\n",
                                    "#1 s> 250 ok\r\n", "close #1 complete t=3"}));
  EXPECT_EQ(counters().flows_created, 1u);
  EXPECT_EQ(counters().flows_closed, 1u);
  EXPECT_EQ(counters().flows_active, 0u);
  EXPECT_EQ(counters().segments, 9u);
  EXPECT_EQ(counters().segments_after_close, 1u);
  tracker().flush(Timestamp::from_seconds(4));
  EXPECT_EQ(factory.events.size(), 5u);  // nothing left to close
}

// Every consumer goes back to its factory right after its on_close(), whatever ended the
// connection (FIN both ways, RST, the flow cap, the end of the capture), with its info still
// valid: that is what lets the pipeline reuse its Connections.
TEST_F(TrackerTest, ConsumersHandedBackAfterClose) {
  config.max_flows = 2;
  handshake(1, "10.0.0.1", 40000);  // #1
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kFinAck);
  send(1, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 1002, kFinAck);  // #1 closed by FIN
  handshake(2, "10.0.0.1", 40001);  // #2
  send(2, "10.0.0.1", 40001, "10.0.0.2", 25, 1001, 0, kRst);  // #2 closed by RST
  handshake(3, "10.0.0.1", 40002);  // #3
  handshake(4, "10.0.0.1", 40003);  // #4
  handshake(5, "10.0.0.1", 40004);  // #5 evicts #3 over the cap
  tracker().flush(Timestamp::from_seconds(6));  // #4 and #5
  using R = RecordingFactory::Recycled;
  EXPECT_EQ(factory.recycled, (std::vector<R>{{1, true, true}, {2, true, true}, {3, true, true},
                                              {4, true, true}, {5, true, true}}));
}

TEST_F(TrackerTest, MidstreamPickupFromServerSide) {
  send(1, "10.0.0.2", 25, "10.0.0.1", 40000, 7000, 300, kPshAck, "250 ok\r\n");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 300, 7008, kPshAck, "RCPT TO:<a@b>\r\n");
  tracker().flush(Timestamp::from_seconds(2));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 s> 250 ok\r\n",
                    "#1 c> RCPT TO:<a@b>\r\n", "close #1 midstream t=2"}));
  EXPECT_EQ(counters().flows_flushed, 1u);
}

TEST_F(TrackerTest, ClientOnlyCaptureIsOneSided) {
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0, kSyn);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "EHLO x\r\n");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1009, 5001, kPshAck, "MAIL FROM:<>\r\n");
  tracker().flush(Timestamp::from_seconds(2));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 c> EHLO x\r\n",
                    "#1 c> MAIL FROM:<>\r\n", "close #1 one_sided t=2"}));
}

TEST_F(TrackerTest, SynAckWithoutSynSetsClientStreamFromAck) {
  send(1, "10.0.0.2", 25, "10.0.0.1", 40000, 5000, 1001, kSynAck);
  // Client data arrives out of order; its ISN is known from the SYN-ACK's ack.
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1005, 5001, kPshAck, "O x\r\n");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "HEL");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1004, 5001, kPshAck, "L");
  tracker().flush(Timestamp::from_seconds(2));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 c> HEL", "#1 c> L",
                    "#1 c> O x\r\n", "close #1 complete t=2"}));
}

TEST_F(TrackerTest, InterleavedConnectionsWithReorderingAndLoss) {
  handshake(1, "10.0.0.1", 40000);
  handshake(1, "10.0.0.3", 40001, "10.0.0.2", 9000);
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 1005, 5001, kPshAck, "2222");
  send(2, "10.0.0.3", 40001, "10.0.0.2", 25, 9001, 5001, kPshAck, "aaaa");
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "1111");
  send(2, "10.0.0.3", 40001, "10.0.0.2", 25, 9009, 5001, kPshAck, "cccc");  // 9005 lost
  send(2, "10.0.0.2", 25, "10.0.0.3", 40001, 5001, 9005, kPshAck, "354\r\n");
  EXPECT_EQ(counters().buffered_bytes, 4u);
  tracker().flush(Timestamp::from_seconds(3));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25",
                    "open #2 10.0.0.3:40001 > 10.0.0.2:25", "#2 c> aaaa", "#1 c> 1111",
                    "#1 c> 2222", "#2 s> 354\r\n", "close #1 complete t=3", "#2 c> [gap 4]",
                    "#2 c> cccc", "close #2 complete t=3"}));
  EXPECT_EQ(counters().gaps, 1u);
  EXPECT_EQ(counters().gap_bytes, 4u);
  EXPECT_EQ(counters().out_of_order_segments, 2u);
  EXPECT_EQ(counters().buffered_bytes, 0u);
}

TEST_F(TrackerTest, ReuseAfterFinNeedsANewIsn) {
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "old\r\n");
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 1006, 5001, kFinAck);
  send(2, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 1007, kFinAck);
  // Late retransmissions and a retransmitted old SYN must not bring it back.
  send(3, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "old\r\n");
  send(3, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0, kSyn);
  EXPECT_EQ(counters().flows_created, 1u);
  // A new SYN with another ISN is a new connection on the same 4-tuple.
  handshake(4, "10.0.0.1", 40000, "10.0.0.2", 777000);
  send(4, "10.0.0.1", 40000, "10.0.0.2", 25, 777001, 5001, kPshAck, "new\r\n");
  tracker().flush(Timestamp::from_seconds(5));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 c> old\r\n",
                    "close #1 complete t=2", "open #2 10.0.0.1:40000 > 10.0.0.2:25",
                    "#2 c> new\r\n", "close #2 complete t=5"}));
  EXPECT_EQ(counters().reused, 1u);
  EXPECT_EQ(counters().segments_after_close, 2u);
}

TEST_F(TrackerTest, ReuseAfterRst) {
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "QUIT\r\n");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1011, 5001, kPshAck, "late");  // hole 1007..1011
  send(2, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 0, kRst);
  send(2, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 0, kRst);  // duplicate RST: ignored
  handshake(3, "10.0.0.1", 40000, "10.0.0.2", 2000);
  tracker().flush(Timestamp::from_seconds(4));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 c> QUIT\r\n", "#1 c> [gap 4]",
                    "#1 c> late", "close #1 complete t=2",
                    "open #2 10.0.0.1:40000 > 10.0.0.2:25", "close #2 complete t=4"}));
  EXPECT_EQ(counters().reused, 1u);
  EXPECT_EQ(counters().flows_closed, 1u);
  EXPECT_EQ(counters().flows_flushed, 1u);
}

TEST_F(TrackerTest, NewSynOnLiveFlowStartsNewConnection) {
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "a");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0, kSyn);  // same ISN: retransmission
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 99, 0, kSyn);    // other ISN: new connection
  tracker().flush(Timestamp::from_seconds(3));
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25", "#1 c> a", "close #1 complete t=2",
                    "open #2 10.0.0.1:40000 > 10.0.0.2:25", "close #2 one_sided t=3"}));
  EXPECT_EQ(counters().reused, 1u);
}

// Expiry waits for the earliest deadline of any list: an entry with a shorter timeout pushed
// after a longer-lived one (a SYN after an established flow, a tombstone) still expires on time.
TEST_F(TrackerTest, ShorterTimeoutPushedLaterExpiresOnTime) {
  config.syn_timeout_usec = 5'000'000;
  config.established_timeout_usec = 20'000'000;
  config.closed_timeout_usec = 3'000'000;
  handshake(0, "10.0.0.3", 40001);                             // #1 established: due at 20
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0, kSyn);   // #2 SYN only: due at 6
  send(5, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);      // unrelated: time moves on
  EXPECT_EQ(counters().flows_evicted_idle, 0u);
  send(6, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);
  EXPECT_EQ(counters().flows_evicted_idle, 1u);
  send(8, "10.0.0.3", 40001, "10.0.0.2", 25, 1001, 5001, kRst);  // #1 closed: tombstone due at 11
  send(10, "10.0.0.3", 40001, "10.0.0.2", 25, 1001, 5001, kPshAck, "late");
  EXPECT_EQ(counters().segments_after_close, 1u);
  send(11, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);
  send(11, "10.0.0.3", 40001, "10.0.0.2", 25, 1005, 5001, kPshAck, "new");  // tombstone gone
  EXPECT_EQ(counters().segments_after_close, 1u);
  EXPECT_EQ(counters().flows_created, 3u);
  EXPECT_EQ(counters().flows_evicted_idle, 1u);  // #1 was established and seen at 8: not idle
}

TEST_F(TrackerTest, IdleExpiryPerState) {
  config.syn_timeout_usec = 5'000'000;
  config.established_timeout_usec = 20'000'000;
  config.closed_timeout_usec = 3'000'000;
  send(0, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0, kSyn);  // #1 stays in SYN state
  handshake(0, "10.0.0.3", 40001);                            // #2 established
  send(4, "10.0.0.3", 40001, "10.0.0.2", 25, 1001, 5001, kPshAck, "x");
  EXPECT_EQ(counters().flows_evicted_idle, 0u);
  send(6, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);  // unrelated: still advances time
  EXPECT_EQ(counters().flows_evicted_idle, 1u);
  send(23, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);
  EXPECT_EQ(counters().flows_evicted_idle, 1u);  // #2 was seen at t=4
  send(24, "10.0.0.9", 40009, "10.0.0.2", 80, 1, 1, kAck);
  EXPECT_EQ(counters().flows_evicted_idle, 2u);
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:25",
                    "open #2 10.0.0.3:40001 > 10.0.0.2:25", "#2 c> x",
                    "close #1 one_sided t=6", "close #2 complete t=24"}));
  EXPECT_EQ(counters().flows_active, 0u);
}

TEST_F(TrackerTest, TombstoneExpiresAfterClosedTimeout) {
  config.closed_timeout_usec = 3'000'000;
  handshake(0);
  send(0, "10.0.0.2", 25, "10.0.0.1", 40000, 5001, 1001, kRst);
  send(2, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "x");  // absorbed
  EXPECT_EQ(counters().flows_created, 1u);
  send(6, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "y");  // tombstone gone
  EXPECT_EQ(counters().flows_created, 2u);
  EXPECT_EQ(counters().segments_after_close, 1u);
}

TEST_F(TrackerTest, MaxFlowsEvictsLeastRecentlySeen) {
  config.max_flows = 2;
  handshake(1, "10.0.0.1", 40001);  // #1
  handshake(2, "10.0.0.1", 40002);  // #2
  send(3, "10.0.0.1", 40001, "10.0.0.2", 25, 1001, 5001, kPshAck, "a");  // #1 is fresh again
  handshake(4, "10.0.0.1", 40003);  // #3 evicts #2
  handshake(5, "10.0.0.1", 40004);  // #4 evicts #1
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40001 > 10.0.0.2:25",
                    "open #2 10.0.0.1:40002 > 10.0.0.2:25", "#1 c> a",
                    "close #2 complete t=4", "open #3 10.0.0.1:40003 > 10.0.0.2:25",
                    "close #1 complete t=5", "open #4 10.0.0.1:40004 > 10.0.0.2:25"}));
  EXPECT_EQ(counters().flows_evicted_cap, 2u);
}

TEST_F(TrackerTest, MaxFlowsComparesAcrossStates) {
  config.max_flows = 2;
  handshake(1, "10.0.0.1", 40001);                                // #1 established, t=1
  send(2, "10.0.0.1", 40002, "10.0.0.2", 25, 1000, 0, kSyn);      // #2 SYN only, t=2
  send(3, "10.0.0.1", 40003, "10.0.0.2", 25, 1000, 0, kSyn);      // #3 evicts #1 (older)
  send(4, "10.0.0.1", 40004, "10.0.0.2", 25, 1000, 0, kSyn);      // #4 evicts #2
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40001 > 10.0.0.2:25",
                    "open #2 10.0.0.1:40002 > 10.0.0.2:25", "close #1 complete t=3",
                    "open #3 10.0.0.1:40003 > 10.0.0.2:25", "close #2 one_sided t=4",
                    "open #4 10.0.0.1:40004 > 10.0.0.2:25"}));
}

TEST_F(TrackerTest, MaxFlowsDropsTombstonesFirst) {
  config.max_flows = 2;
  handshake(1, "10.0.0.1", 40001);  // #1, live, older
  handshake(2, "10.0.0.1", 40002);  // #2, then reset: a tombstone
  send(2, "10.0.0.2", 25, "10.0.0.1", 40002, 5001, 1001, kRst);
  handshake(3, "10.0.0.1", 40003);  // needs room: the tombstone goes, #1 stays
  EXPECT_EQ(counters().flows_evicted_cap, 0u);
  EXPECT_EQ(counters().flows_active, 2u);
  EXPECT_EQ(factory.events.back(), "open #3 10.0.0.1:40003 > 10.0.0.2:25");
}

struct PortCase {
  std::uint16_t sport;
  std::uint16_t dport;
  std::uint8_t flags;
  bool tracked;
  const char* open_event;  // when tracked
};

void PrintTo(const PortCase& c, std::ostream* os) {
  *os << c.sport << "->" << c.dport << " flags " << int{c.flags};
}

class Roles : public TrackerTest, public ::testing::WithParamInterface<PortCase> {};

TEST_P(Roles, FromPortsAndFlags) {
  const auto& c = GetParam();
  send(1, "192.0.2.1", c.sport, "192.0.2.2", c.dport, 1, 1, c.flags, "x");
  EXPECT_EQ(counters().segments_ignored, c.tracked ? 0u : 1u);
  if (c.tracked) {
    ASSERT_EQ(factory.events.size(), 2u);
    EXPECT_EQ(factory.events[0], c.open_event);
  } else {
    EXPECT_TRUE(factory.events.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Roles,
    ::testing::Values(
        PortCase{40000, 25, kPshAck, true, "open #1 192.0.2.1:40000 > 192.0.2.2:25"},
        PortCase{25, 40000, kPshAck, true, "open #1 192.0.2.2:40000 > 192.0.2.1:25"},
        PortCase{587, 25, kPshAck, true, "open #1 192.0.2.1:587 > 192.0.2.2:25"},
        PortCase{25, 587, kPshAck, true, "open #1 192.0.2.2:587 > 192.0.2.1:25"},
        PortCase{2525, 40000, kPshAck, true, "open #1 192.0.2.2:40000 > 192.0.2.1:2525"},
        // The handshake beats the port heuristic.
        PortCase{25, 40000, kSyn, true, "open #1 192.0.2.1:25 > 192.0.2.2:40000"},
        PortCase{40000, 25, kSynAck, true, "open #1 192.0.2.2:25 > 192.0.2.1:40000"},
        PortCase{40000, 80, kPshAck, false, ""}, PortCase{80, 40000, kSyn, false, ""},
        PortCase{24, 26, kPshAck, false, ""}, PortCase{0, 0, kPshAck, false, ""},
        PortCase{465, 993, kPshAck, false, ""}));

TEST_F(TrackerTest, ConfiguredServerPortsOnly) {
  config.server_ports = {10025};
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1, 1, kPshAck, "x");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 10025, 1, 1, kPshAck, "y");
  EXPECT_EQ(counters().segments_ignored, 1u);
  EXPECT_EQ(factory.events,
            (Events{"open #1 10.0.0.1:40000 > 10.0.0.2:10025", "#1 c> y"}));
}

TEST_F(TrackerTest, SegmentsThatOpenNothing) {
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1, 1, kAck);      // pure ACK
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1, 1, kFinAck);   // bare FIN
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1, 1, kRst);      // RST
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1, 1, kRst | kAck, "data with RST");
  EXPECT_TRUE(factory.events.empty());
  EXPECT_EQ(counters().segments_without_flow, 4u);
  EXPECT_EQ(counters().flows_created, 0u);
}

TEST_F(TrackerTest, Ipv6Flow) {
  handshake(1, "2001:db8::1", 50000, "2001:db8::25", 42);
  send(1, "2001:db8::25", 25, "2001:db8::1", 50000, 5001, 43, kPshAck, "220 v6\r\n");
  send(1, "2001:db8::1", 50000, "2001:db8::25", 25, 43, 5009, kPshAck, "EHLO v6\r\n");
  // An IPv4 flow with the same ports is another connection.
  send(1, "10.0.0.1", 50000, "10.0.0.2", 25, 43, 5009, kPshAck, "v4");
  tracker().flush(Timestamp::from_seconds(2));
  EXPECT_EQ(factory.events,
            (Events{"open #1 2001:db8::1:50000 > 2001:db8::25:25", "#1 s> 220 v6\r\n",
                    "#1 c> EHLO v6\r\n", "open #2 10.0.0.1:50000 > 10.0.0.2:25", "#2 c> v4",
                    "close #1 complete t=2", "close #2 midstream t=2"}));
}

TEST_F(TrackerTest, FlushClosesInCreationOrder) {
  std::vector<std::uint16_t> ports = {61000, 1030, 45000, 2000, 33333, 50001, 1025, 64000};
  for (std::size_t i = 0; i < ports.size(); ++i) {
    send(1, "10.0.0.1", ports[i], "10.0.0.2", 25, 1, 1, kPshAck, std::to_string(i));
  }
  factory.events.clear();
  tracker().flush(Timestamp::from_seconds(9));
  Events expected;
  for (std::size_t i = 1; i <= ports.size(); ++i) {
    expected.push_back("close #" + std::to_string(i) + " midstream t=9");
  }
  EXPECT_EQ(factory.events, expected);
  EXPECT_EQ(counters().flows_active, 0u);
}

TEST_F(TrackerTest, ConflictingRetransmissionReachesConsumer) {
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "RCPT TO:<a@nato.int>");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1010, 5001, kPshAck, "a@nat0.int>");
  EXPECT_EQ(factory.events.back(), "#1 c> [conflict a@nat0.int>@11]");
  EXPECT_EQ(counters().overlap_conflicts, 1u);
  EXPECT_EQ(counters().retransmitted_bytes, 11u);
}

TEST_F(TrackerTest, PerDirectionCapForcesGap) {
  config.max_buffered_bytes_per_direction = 4;
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1003, 5001, kPshAck, "cc");
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1005, 5001, kPshAck, "ddd");
  EXPECT_EQ(factory.events.back(), "#1 c> ddd");
  EXPECT_EQ(counters().buffer_cap_drops, 2u);
  EXPECT_EQ(counters().buffered_bytes, 0u);
}

TEST_F(TrackerTest, TotalCapForcesGapOnTheFlowThatExceedsIt) {
  config.max_buffered_bytes_total = 10;
  handshake(1, "10.0.0.1", 40001);
  handshake(1, "10.0.0.1", 40002);
  send(2, "10.0.0.1", 40001, "10.0.0.2", 25, 1011, 5001, kPshAck, "AAAAAAAA");  // 8 held
  send(2, "10.0.0.1", 40002, "10.0.0.2", 25, 1006, 5001, kPshAck, "BBBBB");     // 13 > 10
  EXPECT_EQ(factory.events.back(), "#2 c> BBBBB");
  EXPECT_EQ(factory.events[factory.events.size() - 2], "#2 c> [gap 5]");
  EXPECT_EQ(counters().gaps_forced_total_cap, 1u);
  EXPECT_EQ(counters().buffered_bytes, 8u);
  tracker().flush(Timestamp::from_seconds(3));
  EXPECT_EQ(counters().buffered_bytes, 0u);
  EXPECT_EQ(counters().gap_bytes, 15u);
}

TEST_F(TrackerTest, TimeGoingBackwardsDoesNotExpireOrCrash) {
  config.established_timeout_usec = 10'000'000;
  handshake(100);
  send(50, "10.0.0.1", 40000, "10.0.0.2", 25, 1001, 5001, kPshAck, "x");
  send(105, "10.0.0.1", 40000, "10.0.0.2", 25, 1002, 5001, kPshAck, "y");
  EXPECT_EQ(counters().flows_evicted_idle, 0u);
  EXPECT_EQ(counters().flows_active, 1u);
}

TEST_F(TrackerTest, DestroyingWithOpenFlowsReleasesBufferedBytes) {
  handshake(1);
  send(1, "10.0.0.1", 40000, "10.0.0.2", 25, 1101, 5001, kPshAck, "later");
  EXPECT_EQ(counters().buffered_bytes, 5u);
  tracker_.reset();  // no flush: nothing delivered, nothing leaks (ASan would say)
  EXPECT_EQ(factory.events.size(), 1u);
}

TEST(FlowFootprint, EntryIsModest) {
  const std::size_t bytes = TcpTracker::flow_entry_bytes();
  std::printf("flow table entry: %zu bytes\n", bytes);
  EXPECT_LE(bytes, 384u);
}

}  // namespace
}  // namespace rcptwatch::flow
