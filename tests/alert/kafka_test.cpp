// The Kafka output against librdkafka's mock cluster (Debian 12 ships no Kafka broker): JSON
// events keyed by flow id, delivery reports counted, a broker outage in the middle that loses
// nothing the queues could hold, drop-oldest overflow when they cannot, and the messages
// consumed back from the cluster.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "alert/kafka_transport.h"
#include "alert/output_spec.h"
#include "alert/queued_sink.h"

namespace rcptwatch::alert {
namespace {

using namespace std::chrono_literals;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct MockDeleter {
  void operator()(rd_kafka_mock_cluster_t* m) const { rd_kafka_mock_cluster_destroy(m); }
};

// A mock cluster of `brokers` brokers with one topic; owned by a dummy client as librdkafka wants.
class MockCluster {
 public:
  MockCluster(int brokers, const char* topic, int partitions) : brokers_(brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    owner_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
    EXPECT_TRUE(owner_) << err;
    mock_.reset(rd_kafka_mock_cluster_new(owner_.get(), brokers));
    EXPECT_TRUE(mock_);
    EXPECT_EQ(rd_kafka_mock_topic_create(mock_.get(), topic, partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ~MockCluster() {
    mock_.reset();  // before its owner
    owner_.reset();
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mock_.get()); }
  void set_all(bool up) {
    for (int id = 1; id <= brokers_; ++id) {
      if (up) {
        rd_kafka_mock_broker_set_up(mock_.get(), id);
      } else {
        rd_kafka_mock_broker_set_down(mock_.get(), id);
      }
    }
  }

 private:
  int brokers_;
  std::unique_ptr<rd_kafka_t, KafkaDeleter> owner_;
  std::unique_ptr<rd_kafka_mock_cluster_t, MockDeleter> mock_;
};

// Every message of `topic`, as key -> value, read from the beginning until `want` arrived.
std::multimap<std::string, std::string> consume_all(const std::string& brokers, const char* topic,
                                                    std::size_t want) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [k, v] : {std::pair{"bootstrap.servers", brokers.c_str()}, {"group.id", "rcptwatch-test"},
                      {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"},
                      {"log_level", "0"}}) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k, v, err, sizeof err), RD_KAFKA_CONF_OK) << err;
  }
  std::unique_ptr<rd_kafka_t, KafkaDeleter> consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err));
  EXPECT_TRUE(consumer) << err;
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(consumer.get(), topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  std::multimap<std::string, std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      got.emplace(std::string(static_cast<const char*>(m->key), m->key_len),
                  std::string(static_cast<const char*>(m->payload), m->len));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer.get());
  return got;
}

std::unique_ptr<QueuedSink> kafka_sink(const std::string& brokers, const char* topic,
                                       std::size_t capacity) {
  auto spec = parse_output_spec("kafka://" + brokers + "/" + topic, Format::Json);
  EXPECT_TRUE(spec) << spec.error();
  QueuedSinkOptions qo;
  qo.capacity = capacity;
  qo.flush_timeout = 20s;
  qo.transport.max_queued_messages = capacity;
  return std::make_unique<QueuedSink>(*spec, FormatContext{}, qo);
}

std::string event(int flow_id) {
  return "{\"timestamp\":\"2026-01-01T00:00:00.000000Z\",\"flow_id\":" + std::to_string(flow_id) +
         ",\"event_type\":\"smtp\"}";
}

TEST(KafkaOutput, MessageKeyIsTheFlowId) {
  EXPECT_EQ(kafka_message_key(event(42)), "42");
  EXPECT_EQ(kafka_message_key("{\"event_type\":\"stats\"}"), "");
  EXPECT_EQ(kafka_message_key("<134>1 ... flowId=\"3\""), "");
}

TEST(KafkaOutput, SpecParsing) {
  auto s = parse_output_spec("kafka://k1:9092,[::1]:9093/rcptwatch.alerts", Format::Json);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->kind, OutputKind::Kafka);
  EXPECT_EQ(s->host, "k1:9092,[::1]:9093");
  EXPECT_EQ(s->path, "rcptwatch.alerts");
  for (const char* bad : {"kafka://k1:9092", "kafka://k1:9092/", "kafka://k1/topic", "kafka:///topic",
                          "kafka://k1:9092/bad topic", "kafka://k1:9092,/t", "kafka://k1:0/t"}) {
    EXPECT_FALSE(parse_output_spec(bad, Format::Json)) << bad;
  }
}

TEST(KafkaOutput, OutageInTheMiddleLosesNothingTheQueueHolds) {
  const char* topic = "rcptwatch-outage";
  MockCluster cluster(3, topic, 4);
  auto sink = kafka_sink(cluster.bootstraps(), topic, 1000);
  for (int i = 1; i <= 100; ++i) sink->write_event_json(event(i));
  ASSERT_TRUE(sink->flush_until(SteadyClock::now() + 20s));
  EXPECT_EQ(sink->stats().sent, 100u);

  cluster.set_all(false);
  for (int i = 101; i <= 400; ++i) sink->write_event_json(event(i));
  std::this_thread::sleep_for(1500ms);
  const OutputStats during = sink->stats();
  EXPECT_LT(during.sent, 400u) << "delivered while every broker was down";
  EXPECT_EQ(during.dropped, 0u);
  cluster.set_all(true);

  ASSERT_TRUE(sink->flush_until(SteadyClock::now() + 30s)) << "queued: " << sink->stats().queued;
  sink->close(SteadyClock::now() + 1s);
  const OutputStats st = sink->stats();
  EXPECT_EQ(st.sent, 400u);
  EXPECT_EQ(st.dropped, 0u);

  const auto got = consume_all(cluster.bootstraps(), topic, 400);
  ASSERT_EQ(got.size(), 400u);
  for (int i = 1; i <= 400; ++i) {
    const auto it = got.find(std::to_string(i));
    ASSERT_NE(it, got.end()) << "flow " << i << " missing";
    EXPECT_EQ(it->second, event(i));
    EXPECT_EQ(got.count(std::to_string(i)), 1u) << "flow " << i << " duplicated";
  }
}

TEST(KafkaOutput, OverflowDropsTheOldestAndCountsIt) {
  const char* topic = "rcptwatch-overflow";
  MockCluster cluster(1, topic, 1);
  auto sink = kafka_sink(cluster.bootstraps(), topic, 20);
  sink->write_event_json(event(1));
  ASSERT_TRUE(sink->flush_until(SteadyClock::now() + 20s));
  cluster.set_all(false);
  for (int i = 2; i <= 201; ++i) sink->write_event_json(event(i));
  std::this_thread::sleep_for(500ms);
  cluster.set_all(true);
  ASSERT_TRUE(sink->flush_until(SteadyClock::now() + 30s));
  sink->close(SteadyClock::now() + 1s);
  const OutputStats st = sink->stats();
  EXPECT_GT(st.dropped_overflow, 0u);
  EXPECT_EQ(st.sent + st.dropped, 201u) << "every message is either delivered or counted";
  // The writes outrun the sender thread, so most of the overflow happens in our queue; at
  // least what it held when the writes stopped (20), plus the first message, arrived.
  EXPECT_GE(st.sent, 21u);
  const auto got = consume_all(cluster.bootstraps(), topic, st.sent);
  EXPECT_EQ(got.size(), st.sent);
  EXPECT_EQ(got.count("201"), 1u) << "the newest message must survive";
}

TEST(KafkaOutput, UnreachableClusterCountsWhatIsLeftAtShutdown) {
  // Nothing listens on this port: the bounded flush gives up and counts the messages as lost.
  auto sink = kafka_sink("127.0.0.1:1", "t", 100);
  for (int i = 1; i <= 10; ++i) sink->write_event_json(event(i));
  EXPECT_FALSE(sink->flush_until(SteadyClock::now() + 500ms));
  sink->close(SteadyClock::now() + 100ms);
  const OutputStats st = sink->stats();
  EXPECT_EQ(st.sent, 0u);
  EXPECT_EQ(st.dropped, 10u);
  EXPECT_EQ(st.queued, 0u);
}

}  // namespace
}  // namespace rcptwatch::alert
