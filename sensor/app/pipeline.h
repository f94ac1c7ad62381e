// The sensor pipeline for one packet stream: decode -> TCP tracking/reassembly -> SMTP ->
// lookalike detection -> alert sink. Single-threaded; owns every stage's state.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alert/json_writer.h"
#include "alert/sink.h"
#include "app/encrypted_watch.h"
#include "capture/packet_source.h"
#include "common/cidr.h"
#include "decode/decoder.h"
#include "detect/matcher.h"
#include "fleet/direction.h"
#include "fleet/evidence.h"
#include "flow/tcp_tracker.h"
#include "learn/observations.h"
#include "smtp/session.h"

namespace rcptwatch::app {

struct PipelineConfig {
  decode::DecoderLimits decoder;
  flow::TrackerConfig tracker;
  smtp::SmtpLimits smtp;
  bool log_envelopes = false;  // one JSON `smtp` event per completed transaction
  // Fleet (issue 12): direction, identity, evidence.
  CidrSet home_net;                          // --home-net; empty: direction unknown, all judged
  fleet::DirectionSet judge_directions = fleet::DirectionSet::defaults();
  std::string sensor_name;                   // --sensor-name
  std::string in_iface;                      // capture interface(s), or the replayed file's name
  fleet::EvidenceConfig evidence;            // --evidence-dir; empty dir: off
  // Learned protection (--learn): each finished transaction's accepted recipient domains are
  // aggregated here, in memory, until take_observations().
  bool learn = false;
  std::size_t learn_max_domains = 10'000;    // domains one batch holds (--learn-max-domains)
};

struct PipelineCounters {
  std::uint64_t recipients_checked = 0;
  std::uint64_t alerts = 0;
  std::uint64_t recipients_skipped_direction = 0;  // not judged: direction not in --judge-directions
  // Alerts raised per rule (signature_id), every kind (RCPT, DNS, server name, SNI, MX).
  // A map: one node per rule that ever fired, never per packet.
  std::map<std::uint32_t, std::uint64_t> alerts_by_rule;
};

// The tracker's configuration with the ports a Pipeline follows besides --ports: DNS over TCP
// and implicit-TLS SMTP (consumers of their own).
flow::TrackerConfig with_watch_ports(flow::TrackerConfig tracker);

class Pipeline final : private flow::StreamConsumerFactory {
 public:
  // Throws std::runtime_error when --evidence-dir cannot be used (a start-up failure).
  Pipeline(const PipelineConfig& config, std::shared_ptr<const detect::Matcher> matcher,
           alert::AlertSink& sink);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void process(const capture::Packet& packet);
  // Packet time has reached `ts` in frames other pipelines judged (--workers): connections
  // idle since before their timeout are closed, as a later frame of its own would close them.
  void advance_to(Timestamp ts);
  // End of input: flush every connection so pending recipients are judged.
  void finish();
  // The same at a given packet time: a worker (--workers) flushes at the last packet time of
  // the whole capture, not of its own share, so its alerts match a single pipeline's.
  void finish_at(Timestamp ts);
  // A UDP DNS datagram another worker owns: learn lookalike MX addresses only (no alert).
  void learn_dns(const decode::UdpDatagram& datagram, Timestamp ts) { watch_->learn_udp(datagram, ts); }

  // Swap the rules (e.g. on reload); connections in progress use the new matcher from
  // their next recipient on.
  void set_matcher(std::shared_ptr<const detect::Matcher> matcher);
  // Rules generated from learned correspondents (--learn); null when not learning.
  void set_learned_matcher(std::shared_ptr<const detect::Matcher> matcher);
  // --learn: what was observed since the last call (the batch is then empty again).
  learn::ObservationBatch take_observations();
  const EncryptedWatch& encrypted_watch() const { return *watch_; }

  const decode::DecodeCounters& decode_counters() const { return decoder_.counters(); }
  const flow::TrackerCounters& tracker_counters() const { return tracker_.counters(); }
  const smtp::SmtpCounters& smtp_counters() const { return smtp_counters_; }
  const PipelineCounters& counters() const { return counters_; }
  // Null when --evidence-dir is off.
  const fleet::EvidenceCounters* evidence_counters() const {
    return evidence_ ? &evidence_->counters() : nullptr;
  }

  // One JSON `stats` event with every stage's counters; `extra` may add sections of its own
  // (outputs, de-duplication) inside the "stats" object.
  std::string stats_json(const capture::SourceStats& source, Timestamp now,
                         const std::function<void(alert::JsonWriter&)>& extra = {}) const;

 private:
  class Connection;
  // What the pipeline works out once per connection: direction and cross-sensor identity.
  struct FlowContext {
    fleet::Direction direction = fleet::Direction::Unknown;
    bool judged = true;  // direction is one of --judge-directions (or no --home-net)
    fleet::FlowKey key;
    // Community ID v1, worked out on first use: a SHA-1 per connection was a tenth of a
    // replay's cost, and only connections that raise an event need it.
    const std::string& community_id(const flow::ConnectionInfo& info) const;

   private:
    mutable std::string community_id_;
  };
  FlowContext make_flow_context(const flow::ConnectionInfo& info) const;
  std::unique_ptr<flow::StreamConsumer> open(const flow::ConnectionInfo& info) override;
  void recycle(const flow::ConnectionInfo& info,
               std::unique_ptr<flow::StreamConsumer> consumer) override;
  void judge(const flow::ConnectionInfo& info, const FlowContext& ctx,
             const smtp::RecipientEvent& event);
  void log_transaction(const flow::ConnectionInfo& info, const FlowContext& ctx,
                       const smtp::TransactionEvent& event);
  void log_tls(const flow::ConnectionInfo& info, const FlowContext& ctx, Timestamp ts);
  void close_connection(const FlowContext& ctx);
  void hold_evidence(const capture::Packet& packet);
  // The identity fields every event about a connection starts with.
  void write_flow_fields(alert::JsonWriter& w, const flow::ConnectionInfo& info,
                         const FlowContext& ctx, Timestamp ts, std::string_view event_type) const;

  // Stamps the fleet identity (sensor_name, in_iface, community_id, network.direction) on every
  // alert, and counts it by rule; what an alert already carries (judge(): the connection's
  // cached Community ID) is kept.
  class IdentitySink final : public alert::AlertSink {
   public:
    IdentitySink(const PipelineConfig& config, alert::AlertSink& next, PipelineCounters& counters)
        : config_(config), next_(next), counters_(counters) {}
    void write_alert(const alert::Alert& a) override;
    void write_event_json(std::string_view json) override { next_.write_event_json(json); }
    void flush() override { next_.flush(); }

   private:
    const PipelineConfig& config_;
    alert::AlertSink& next_;
    PipelineCounters& counters_;
  };

  PipelineConfig config_;
  std::shared_ptr<const detect::Matcher> matcher_;
  alert::AlertSink& sink_;
  IdentitySink identity_sink_{config_, sink_, counters_};  // what the other watchers write to
  decode::PacketDecoder decoder_;
  flow::TcpTracker tracker_;
  smtp::SmtpCounters smtp_counters_;
  PipelineCounters counters_;
  decode::TcpSegment segment_;
  decode::UdpDatagram datagram_;
  std::shared_ptr<const detect::Matcher> learned_matcher_;
  std::unique_ptr<EncryptedWatch> watch_;  // DNS, MX correlation, server names, SNI
  Timestamp last_ts_;
  std::string event_buffer_;  // reused for smtp events
  // Closed Connections, each with its last SMTP session's memory, reused by new ones: without
  // them a connection allocated about a dozen times (the Connection, the session's state,
  // pending commands, transactions, addresses). At most kMaxSpareConnections, sessions under
  // SmtpSession::kMaxSpareBytes: what is kept follows the number of concurrent sessions.
  static constexpr std::size_t kMaxSpareConnections = 256;
  std::vector<std::unique_ptr<Connection>> spare_connections_;
  std::unique_ptr<fleet::EvidenceStore> evidence_;  // --evidence-dir
  learn::ObservationBatch observations_{config_.learn_max_domains};  // --learn
};

}  // namespace rcptwatch::app
