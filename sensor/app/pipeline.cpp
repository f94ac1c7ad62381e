// Wiring of the stages for one packet stream. The only place that knows all of them.
#include "app/pipeline.h"

#include "alert/json_writer.h"

namespace rcptwatch::app {

// One TCP connection on an SMTP port: feeds its SMTP session and judges each recipient.
class Pipeline::Connection final : public flow::StreamConsumer, private smtp::SmtpObserver {
 public:
  Connection(Pipeline& owner, const flow::ConnectionInfo& info)
      : owner_(owner), info_(info), session_(owner.config_.smtp, *this, owner.smtp_counters_) {}

  void on_data(flow::StreamDir dir, Bytes data, Timestamp ts) override {
    if (dir == flow::StreamDir::ToServer) {
      session_.on_client_data(data, ts);
    } else {
      session_.on_server_data(data, ts);
    }
  }
  void on_gap(flow::StreamDir dir, std::uint64_t length, Timestamp ts) override {
    if (dir == flow::StreamDir::ToServer) {
      session_.on_client_gap(length, ts);
    } else {
      session_.on_server_gap(length, ts);
    }
  }
  void on_conflict(flow::StreamDir dir, Bytes alternative, std::uint64_t /*offset_back*/,
                   Timestamp ts) override {
    // The server kept one of two different copies; the recipients of the other one are
    // judged too, so hiding one in either copy does not work. Only client data can.
    if (dir == flow::StreamDir::ToServer) session_.on_client_conflict(alternative, ts);
  }
  void on_close(Timestamp ts) override { session_.on_close(ts); }

 private:
  void on_recipient(const smtp::RecipientEvent& event) override { owner_.judge(info_, event); }
  void on_transaction(const smtp::TransactionEvent& event) override {
    if (owner_.config_.log_envelopes) owner_.log_transaction(info_, event);
  }
  void on_tls(Timestamp ts) override { owner_.log_tls(info_, ts); }

  Pipeline& owner_;
  const flow::ConnectionInfo& info_;
  smtp::SmtpSession session_;
};

Pipeline::Pipeline(const PipelineConfig& config, std::shared_ptr<const detect::Matcher> matcher,
                   alert::AlertSink& sink)
    : config_(config),
      matcher_(std::move(matcher)),
      sink_(sink),
      decoder_(config.decoder),
      tracker_(config.tracker, *this) {}

Pipeline::~Pipeline() = default;

void Pipeline::set_matcher(std::shared_ptr<const detect::Matcher> matcher) {
  matcher_ = std::move(matcher);
}

void Pipeline::process(const capture::Packet& packet) {
  last_ts_ = packet.ts;
  if (decoder_.decode(packet.link_type, packet.data, packet.ts, segment_) ==
      decode::DecodeStatus::Tcp) {
    tracker_.process(segment_, packet.ts);
  }
}

void Pipeline::finish() { tracker_.flush(last_ts_); }

std::unique_ptr<flow::StreamConsumer> Pipeline::open(const flow::ConnectionInfo& info) {
  return std::make_unique<Connection>(*this, info);
}

void Pipeline::judge(const flow::ConnectionInfo& info, const smtp::RecipientEvent& event) {
  ++counters_.recipients_checked;
  if (event.domain.empty()) return;
  const std::optional<detect::Match> match = matcher_->match(event.domain);
  if (!match) return;
  ++counters_.alerts;

  alert::Alert a;
  a.ts = event.ts;
  a.flow_id = info.id;
  a.src_ip = info.client_ip;
  a.src_port = info.client_port;
  a.dest_ip = info.server_ip;
  a.dest_port = info.server_port;
  a.capture = std::string(flow::to_string(info.quality()));
  a.signature_id = match->rule->id;
  a.signature = match->rule->msg;
  a.severity = match->rule->severity;
  a.helo = std::string(event.helo);
  a.mail_from = std::string(event.mail_from);
  a.rcpt_to = std::string(event.rcpt_to);
  a.rcpt_reply = event.reply;
  a.transaction = event.transaction;
  a.domain = match->domain;
  a.domain_unicode = match->domain_unicode;
  a.protected_domain = match->protected_domain;
  a.technique = match->technique;
  a.distance = match->distance;
  sink_.write_alert(a);
}

void Pipeline::write_flow_fields(alert::JsonWriter& w, const flow::ConnectionInfo& info,
                                 Timestamp ts, std::string_view event_type) {
  w.field("timestamp", format_rfc3339(ts));
  w.field("flow_id", info.id);
  w.field("event_type", event_type);
  w.field("src_ip", info.client_ip.to_string());
  w.field("src_port", static_cast<std::uint32_t>(info.client_port));
  w.field("dest_ip", info.server_ip.to_string());
  w.field("dest_port", static_cast<std::uint32_t>(info.server_port));
  w.field("proto", "TCP");
  w.field("app_proto", "smtp");
  w.field("capture", flow::to_string(info.quality()));
}

void Pipeline::log_transaction(const flow::ConnectionInfo& info,
                               const smtp::TransactionEvent& event) {
  event_buffer_.clear();
  alert::JsonWriter w(event_buffer_);
  w.begin_object();
  write_flow_fields(w, info, event.ts, "smtp");
  w.key("smtp");
  w.begin_object();
  w.field("helo", event.helo);
  w.field("mail_from", event.mail_from);
  w.field("transaction", event.transaction);
  w.field("tls", event.tls);
  w.key("rcpt_to");
  w.begin_array();
  for (const auto& r : event.recipients) {
    w.begin_object();
    w.field("address", r.address);
    w.field("domain", r.domain);
    w.field("reply", r.reply);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.end_object();
  sink_.write_event_json(event_buffer_);
}

void Pipeline::log_tls(const flow::ConnectionInfo& info, Timestamp ts) {
  // Always reported: from here on this connection is a blind spot, and the SOC should know.
  event_buffer_.clear();
  alert::JsonWriter w(event_buffer_);
  w.begin_object();
  write_flow_fields(w, info, ts, "smtp");
  w.key("smtp");
  w.begin_object();
  w.field("tls", true);
  w.field("starttls", true);
  w.end_object();
  w.end_object();
  sink_.write_event_json(event_buffer_);
}

std::string Pipeline::stats_json(const capture::SourceStats& source, Timestamp now,
                                 const std::function<void(alert::JsonWriter&)>& extra) const {
  std::string out;
  alert::JsonWriter w(out);
  const auto& d = decoder_.counters();
  const auto& t = tracker_.counters();
  const auto& s = smtp_counters_;
  w.begin_object();
  w.field("timestamp", format_rfc3339(now));
  w.field("event_type", "stats");
  w.key("stats");
  w.begin_object();

  w.key("capture");
  w.begin_object();
  w.field("packets", source.packets);
  w.field("bytes", source.bytes);
  w.field("kernel_drops", source.dropped_by_kernel);
  w.field("interface_drops", source.dropped_by_interface);
  w.end_object();

  w.key("decoder");
  w.begin_object();
  w.field("packets", d.packets);
  w.field("tcp", d.tcp);
  w.field("not_tcp", d.not_tcp);
  w.field("not_ip", d.not_ip);
  w.field("unsupported_link", d.unsupported_link);
  w.field("malformed", d.malformed);
  w.field("ipv4", d.ipv4);
  w.field("ipv6", d.ipv6);
  w.field("vlan_tags", d.vlan_tags);
  w.field("fragments", d.fragments);
  w.field("fragments_reassembled", d.fragments_reassembled);
  w.field("fragments_dropped", d.fragments_dropped);
  w.end_object();

  w.key("tcp");
  w.begin_object();
  w.field("segments", t.segments);
  w.field("segments_ignored", t.segments_ignored);
  w.field("flows_created", t.flows_created);
  w.field("flows_active", t.flows_active);
  w.field("flows_closed", t.flows_closed);
  w.field("flows_evicted_idle", t.flows_evicted_idle);
  w.field("flows_evicted_cap", t.flows_evicted_cap);
  w.field("reused", t.reused);
  w.field("gaps", t.gaps);
  w.field("gap_bytes", t.gap_bytes);
  w.field("retransmitted_bytes", t.retransmitted_bytes);
  w.field("overlaps", t.overlaps);
  w.field("overlap_conflicts", t.overlap_conflicts);
  w.field("out_of_order_segments", t.out_of_order_segments);
  w.field("buffer_cap_drops", t.buffer_cap_drops);
  w.field("buffered_bytes", t.buffered_bytes);
  w.end_object();

  w.key("smtp");
  w.begin_object();
  w.field("sessions", s.sessions);
  w.field("commands", s.commands);
  w.field("unknown_commands", s.unknown_commands);
  w.field("truncated_lines", s.truncated_lines);
  w.field("replies", s.replies);
  w.field("transactions", s.transactions);
  w.field("recipients", s.recipients);
  w.field("malformed_addresses", s.malformed_addresses);
  w.field("gaps", s.gaps);
  w.field("resyncs", s.resyncs);
  w.field("tls_sessions", s.tls_sessions);
  w.field("data_bytes_skipped", s.data_bytes_skipped);
  w.field("conflict_recipients", s.conflict_recipients);
  w.end_object();

  w.key("detect");
  w.begin_object();
  w.field("recipients_checked", counters_.recipients_checked);
  w.field("alerts", counters_.alerts);
  w.end_object();

  if (extra) extra(w);
  w.end_object();
  w.end_object();
  return out;
}

}  // namespace rcptwatch::app
