// librdkafka producer behind the Transport interface; see kafka_transport.h.
//
// Delivery rules, the same as the syslog outputs: a message is `delivered` when its delivery
// report arrives without error, `lost` when the report carries an error or when it is still
// unacknowledged at shutdown (abandon() purges it). message.timeout.ms is 0 (never expire), so
// while brokers are down messages wait in librdkafka's bounded queue and then in the
// QueuedSink's, and only the latter's overflow (oldest first, counted) loses anything.
#include "alert/kafka_transport.h"

#include <librdkafka/rdkafka.h>

#include <atomic>

namespace rcptwatch::alert {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};

class KafkaTransport final : public Transport {
 public:
  explicit KafkaTransport(const KafkaOptions& options) : options_(options) {}
  ~KafkaTransport() override {
    abandon();
    topic_.reset();
    rk_.reset();
  }

  tl::expected<void, std::string> init() {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    char err[512];
    const std::string queued = std::to_string(options_.max_queued_messages);
    const std::pair<const char*, const char*> settings[] = {
        {"bootstrap.servers", options_.brokers.c_str()},
        {"client.id", "rcptwatch"},
        {"queue.buffering.max.messages", queued.c_str()},
        {"message.timeout.ms", "0"},          // never expire: the queues bound what is held
        {"enable.idempotence", "true"},       // retries after an outage do not duplicate
        {"linger.ms", "5"},
        {"log_level", "3"},                   // errors only: outages are counted, not logged
    };
    for (const auto& [name, value] : settings) {
      if (rd_kafka_conf_set(conf.get(), name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        return tl::unexpected(std::string("kafka: ") + name + ": " + err);
      }
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaTransport::on_delivery);
    rd_kafka_conf_set_error_cb(conf.get(), &KafkaTransport::on_error);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
    if (rk == nullptr) return tl::unexpected(std::string("kafka: ") + err);
    conf.release();  // rd_kafka_new took it
    rk_.reset(rk);
    topic_.reset(rd_kafka_topic_new(rk_.get(), options_.topic.c_str(), nullptr));
    if (!topic_) return tl::unexpected("kafka: topic '" + options_.topic + "' refused");
    return {};
  }

  SendStatus send(std::string_view message) override {
    rd_kafka_poll(rk_.get(), 0);  // delivery reports of earlier messages
    const std::string_view key = kafka_message_key(message);
    const int rc = rd_kafka_produce(topic_.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                    const_cast<char*>(message.data()), message.size(),
                                    key.empty() ? nullptr : key.data(), key.size(), nullptr);
    if (rc == 0) {
      in_flight_.fetch_add(1);
      return SendStatus::Done;
    }
    const rd_kafka_resp_err_t e = rd_kafka_last_error();
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      retry_at_ = SteadyClock::now() + options_.retry_interval;
      return SendStatus::Retry;
    }
    counters_.errors.fetch_add(1);
    counters_.lost.fetch_add(1);
    return SendStatus::Failed;
  }

  void service() override { rd_kafka_poll(rk_.get(), 0); }

  std::size_t unacknowledged() const override { return in_flight_.load(); }

  void abandon() override {
    if (!rk_ || in_flight_.load() == 0) return;
    // Purged messages get a delivery report with an error, which counts them as lost.
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && in_flight_.load() > 0; ++i) rd_kafka_poll(rk_.get(), 10);
    counters_.lost.fetch_add(in_flight_.exchange(0));
  }

  SteadyClock::time_point retry_at() const override { return retry_at_; }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaTransport*>(opaque);
    if (self->in_flight_.load() > 0) self->in_flight_.fetch_sub(1);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->counters_.delivered.fetch_add(1);
    } else {
      self->counters_.lost.fetch_add(1);
    }
  }
  static void on_error(rd_kafka_t*, int, const char*, void* opaque) {
    // Broker down, connection refused...: librdkafka retries by itself; we only count.
    static_cast<KafkaTransport*>(opaque)->counters_.errors.fetch_add(1);
  }

  KafkaOptions options_;
  std::unique_ptr<rd_kafka_t, KafkaDeleter> rk_;
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> topic_;
  std::atomic<std::size_t> in_flight_{0};
  SteadyClock::time_point retry_at_{};
};

}  // namespace

std::string_view kafka_message_key(std::string_view message) {
  constexpr std::string_view kField = "\"flow_id\":";
  const auto at = message.find(kField);
  if (at == std::string_view::npos) return {};
  std::size_t start = at + kField.size();
  std::size_t end = start;
  while (end < message.size() && message[end] >= '0' && message[end] <= '9') ++end;
  return message.substr(start, end - start);
}

tl::expected<std::unique_ptr<Transport>, std::string> make_kafka_transport(const KafkaOptions& options) {
  auto t = std::make_unique<KafkaTransport>(options);
  if (auto r = t->init(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace rcptwatch::alert
