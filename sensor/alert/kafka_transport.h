// Kafka output (`--output kafka://BROKER:PORT[,BROKER:PORT...]/TOPIC`) over librdkafka: each
// message is produced to TOPIC keyed by the event's flow id, and counted as delivered only
// when its delivery report says the brokers have it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "alert/transport.h"

namespace rcptwatch::alert {

struct KafkaOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic;
  // librdkafka's own queue (queue.buffering.max.messages). When it is full send() answers
  // Retry, so the QueuedSink in front keeps the message and applies its drop-oldest rule.
  std::size_t max_queued_messages = 10'000;
  std::chrono::milliseconds retry_interval{50};
};

// The partition key of a message: the digits after its first "flow_id": (JSON events), or
// empty (stats events, non-JSON formats), which lets librdkafka spread those over partitions.
std::string_view kafka_message_key(std::string_view message);

// Builds the producer; errors (bad configuration) are one line. Nothing is sent here:
// librdkafka connects in its own threads, so an unreachable cluster never delays start-up.
tl::expected<std::unique_ptr<Transport>, std::string> make_kafka_transport(const KafkaOptions& options);

}  // namespace rcptwatch::alert
