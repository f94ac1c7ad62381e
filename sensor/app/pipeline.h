// The sensor pipeline for one packet stream: decode -> TCP tracking/reassembly -> SMTP ->
// lookalike detection -> alert sink. Single-threaded; owns every stage's state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "alert/json_writer.h"
#include "alert/sink.h"
#include "capture/packet_source.h"
#include "decode/decoder.h"
#include "detect/matcher.h"
#include "flow/tcp_tracker.h"
#include "smtp/session.h"

namespace rcptwatch::app {

struct PipelineConfig {
  decode::DecoderLimits decoder;
  flow::TrackerConfig tracker;
  smtp::SmtpLimits smtp;
  bool log_envelopes = false;  // one JSON `smtp` event per completed transaction
};

struct PipelineCounters {
  std::uint64_t recipients_checked = 0;
  std::uint64_t alerts = 0;
};

class Pipeline final : private flow::StreamConsumerFactory {
 public:
  Pipeline(const PipelineConfig& config, std::shared_ptr<const detect::Matcher> matcher,
           alert::AlertSink& sink);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void process(const capture::Packet& packet);
  // End of input: flush every connection so pending recipients are judged.
  void finish();

  // Swap the rules (e.g. on reload); connections in progress use the new matcher from
  // their next recipient on.
  void set_matcher(std::shared_ptr<const detect::Matcher> matcher);

  const decode::DecodeCounters& decode_counters() const { return decoder_.counters(); }
  const flow::TrackerCounters& tracker_counters() const { return tracker_.counters(); }
  const smtp::SmtpCounters& smtp_counters() const { return smtp_counters_; }
  const PipelineCounters& counters() const { return counters_; }

  // One JSON `stats` event with every stage's counters; `extra` may add sections of its own
  // (outputs, de-duplication) inside the "stats" object.
  std::string stats_json(const capture::SourceStats& source, Timestamp now,
                         const std::function<void(alert::JsonWriter&)>& extra = {}) const;

 private:
  class Connection;
  std::unique_ptr<flow::StreamConsumer> open(const flow::ConnectionInfo& info) override;
  void judge(const flow::ConnectionInfo& info, const smtp::RecipientEvent& event);
  void log_transaction(const flow::ConnectionInfo& info, const smtp::TransactionEvent& event);
  void log_tls(const flow::ConnectionInfo& info, Timestamp ts);
  // The identity fields every event about a connection starts with.
  static void write_flow_fields(alert::JsonWriter& w, const flow::ConnectionInfo& info,
                                Timestamp ts, std::string_view event_type);

  PipelineConfig config_;
  std::shared_ptr<const detect::Matcher> matcher_;
  alert::AlertSink& sink_;
  decode::PacketDecoder decoder_;
  flow::TcpTracker tracker_;
  smtp::SmtpCounters smtp_counters_;
  PipelineCounters counters_;
  decode::TcpSegment segment_;
  Timestamp last_ts_;
  std::string event_buffer_;  // reused for smtp events
};

}  // namespace rcptwatch::app
