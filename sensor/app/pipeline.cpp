// Wiring of the stages for one packet stream. The only place that knows all of them.
#include "app/pipeline.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <utility>

#include "alert/format_json.h"
#include "alert/json_writer.h"
#include "fleet/community_id.h"

namespace rcptwatch::app {

// One TCP connection on an SMTP port: feeds its SMTP session and judges each recipient.
// The session is created by the first stream event: a connection that never carries a byte
// (a SYN flood, a port scan) costs only this small object, not a parser's buffers.
class Pipeline::Connection final : public flow::StreamConsumer, private smtp::SmtpObserver {
 public:
  Connection(Pipeline& owner, const flow::ConnectionInfo& info)
      : owner_(owner),
        info_(&info),
        ctx_(owner.make_flow_context(info)),
        watch_(*owner.watch_, info) {}

  // Serves a new connection: a closed one's Connection is reused (Pipeline::recycle).
  void reopen(const flow::ConnectionInfo& info) {
    info_ = &info;
    ctx_ = owner_.make_flow_context(info);
    watch_ = EncryptedWatch::SmtpWatch(*owner_.watch_, info);
  }

  void on_data(flow::StreamDir dir, Bytes data, Timestamp ts) override {
    if (dir == flow::StreamDir::ToServer) {
      session().on_client_data(data, ts);
    } else {
      session().on_server_data(data, ts);
    }
  }
  void on_gap(flow::StreamDir dir, std::uint64_t length, Timestamp ts) override {
    if (dir == flow::StreamDir::ToServer) {
      session().on_client_gap(length, ts);
    } else {
      session().on_server_gap(length, ts);
    }
  }
  void on_conflict(flow::StreamDir dir, Bytes alternative, std::uint64_t /*offset_back*/,
                   Timestamp ts) override {
    // The server kept one of two different copies; the recipients of the other one are
    // judged too, so hiding one in either copy does not work. Only client data can.
    if (dir == flow::StreamDir::ToServer) session().on_client_conflict(alternative, ts);
  }
  void on_close(Timestamp ts) override {
    if (session_) {
      session_->on_close(ts);
      spare_ = std::move(*session_).release();  // for this Connection's next session
      session_.reset();
    }
    watch_.on_close(ts);
    owner_.close_connection(ctx_);
  }

 private:
  smtp::SmtpSession& session() {
    smtp::SmtpObserver& observer = *this;  // a private base: convert here, not in emplace
    if (!session_) session_.emplace(owner_.config_.smtp, observer, owner_.smtp_counters_, std::move(spare_));
    return *session_;
  }

  void on_recipient(const smtp::RecipientEvent& event) override {
    owner_.judge(*info_, ctx_, event);
  }
  void on_transaction(const smtp::TransactionEvent& event) override {
    if (owner_.config_.log_envelopes) owner_.log_transaction(*info_, ctx_, event);
    // Learning follows the judged directions: inbound mail does not make correspondents.
    if (owner_.config_.learn && ctx_.judged) owner_.observations_.add(event);
  }
  void on_tls(Timestamp ts) override {
    owner_.log_tls(*info_, ctx_, ts);
    watch_.on_tls(ts);
  }
  void on_server_greeting(std::string_view host, Timestamp ts) override {
    watch_.on_greeting(host, ts);
  }
  void on_ehlo_host(std::string_view host, Timestamp ts) override {
    watch_.on_ehlo_host(host, ts);
  }
  void on_tls_client_data(Bytes data, Timestamp ts) override {
    watch_.on_tls_client_data(data, ts);
  }

  Pipeline& owner_;
  const flow::ConnectionInfo* info_;  // pointers and values, not references: see reopen()
  FlowContext ctx_;
  std::optional<smtp::SmtpSession> session_;
  // The memory of the session this Connection served last (empty at first, or when that one
  // grew too big to keep): a recycled Connection's next session costs no allocation.
  smtp::SmtpSession::Spare spare_;
  EncryptedWatch::SmtpWatch watch_;
};

flow::TrackerConfig with_watch_ports(flow::TrackerConfig tracker) {
  for (std::uint16_t p : {EncryptedWatch::kDnsPort, EncryptedWatch::kImplicitTlsPort}) {
    if (std::find(tracker.server_ports.begin(), tracker.server_ports.end(), p) ==
        tracker.server_ports.end()) {
      tracker.server_ports.push_back(p);
    }
  }
  return tracker;
}

Pipeline::Pipeline(const PipelineConfig& config, std::shared_ptr<const detect::Matcher> matcher,
                   alert::AlertSink& sink)
    : config_(config),
      matcher_(std::move(matcher)),
      sink_(sink),
      decoder_(config.decoder),
      tracker_(with_watch_ports(config.tracker), *this),
      watch_(std::make_unique<EncryptedWatch>(matcher_, learned_matcher_, identity_sink_)) {
  if (!config_.evidence.dir.empty()) {
    auto store = fleet::EvidenceStore::open(config_.evidence);
    if (!store) throw std::runtime_error("--evidence-dir: " + store.error());
    evidence_ = std::move(*store);
  }
}

Pipeline::~Pipeline() = default;

void Pipeline::set_matcher(std::shared_ptr<const detect::Matcher> matcher) {
  matcher_ = std::move(matcher);
}

void Pipeline::set_learned_matcher(std::shared_ptr<const detect::Matcher> matcher) {
  learned_matcher_ = std::move(matcher);
}

learn::ObservationBatch Pipeline::take_observations() {
  return std::exchange(observations_, learn::ObservationBatch(config_.learn_max_domains));
}

void Pipeline::process(const capture::Packet& packet) {
  last_ts_ = packet.ts;
  const decode::DecodeStatus status =
      decoder_.decode(packet.link_type, packet.data, packet.ts, segment_, datagram_);
  if (status == decode::DecodeStatus::Udp) watch_->on_udp(datagram_, packet.ts);
  if (status == decode::DecodeStatus::Tcp) {
    if (evidence_) hold_evidence(packet);
    tracker_.process(segment_, packet.ts);
  }
}

void Pipeline::hold_evidence(const capture::Packet& packet) {
  // Before the tracker sees the frame, so the one that completes an alert is in the file.
  // Only frames that can start a session create a buffer: a stray ACK or FIN after the close
  // must not leave one behind.
  bool smtp_port = false;
  for (std::uint16_t p : config_.tracker.server_ports) {
    smtp_port = smtp_port || p == segment_.src_port || p == segment_.dst_port;
  }
  if (!smtp_port) return;
  const fleet::FlowKey key =
      fleet::FlowKey::of(segment_.src, segment_.src_port, segment_.dst, segment_.dst_port);
  constexpr std::uint8_t kSyn = 0x02;
  if (segment_.payload.empty() && !segment_.has(kSyn) && !evidence_->holds(key)) return;
  evidence_->append(key, packet.ts, packet.link_type, packet.wire_length, packet.data);
}

Pipeline::FlowContext Pipeline::make_flow_context(const flow::ConnectionInfo& info) const {
  FlowContext ctx;
  ctx.direction = fleet::classify_direction(config_.home_net, info.client_ip, info.server_ip);
  ctx.judged = config_.home_net.empty() || config_.judge_directions.contains(ctx.direction);
  ctx.key = fleet::FlowKey::of(info.client_ip, info.client_port, info.server_ip, info.server_port);
  return ctx;
}

const std::string& Pipeline::FlowContext::community_id(const flow::ConnectionInfo& info) const {
  if (community_id_.empty()) {
    community_id_ = fleet::community_id_v1(fleet::kProtoTcp, info.client_ip, info.server_ip,
                                           info.client_port, info.server_port);
  }
  return community_id_;
}

void Pipeline::IdentitySink::write_alert(const alert::Alert& a) {
  alert::Alert stamped = a;  // a copy: these alerts are rare (one per lookalike name seen)
  if (stamped.sensor_name.empty()) stamped.sensor_name = config_.sensor_name;
  if (stamped.in_iface.empty()) stamped.in_iface = config_.in_iface;
  if (stamped.community_id.empty() && stamped.src_port != 0 && stamped.dest_port != 0) {
    constexpr std::uint8_t kProtoUdp = 17;
    stamped.community_id =
        fleet::community_id_v1(stamped.proto == "UDP" ? kProtoUdp : fleet::kProtoTcp, stamped.src_ip,
                               stamped.dest_ip, stamped.src_port, stamped.dest_port);
  }
  if (!config_.home_net.empty()) {
    stamped.direction =
        std::string(fleet::to_string(fleet::classify_direction(config_.home_net, stamped.src_ip, stamped.dest_ip)));
  }
  ++counters_.alerts_by_rule[stamped.signature_id];
  next_.write_alert(stamped);
}

void Pipeline::close_connection(const FlowContext& ctx) {
  if (evidence_) evidence_->on_close(ctx.key);
}

void Pipeline::finish() { tracker_.flush(last_ts_); }

void Pipeline::advance_to(Timestamp ts) { tracker_.advance_to(ts); }

void Pipeline::finish_at(Timestamp ts) { tracker_.flush(ts); }

std::unique_ptr<flow::StreamConsumer> Pipeline::open(const flow::ConnectionInfo& info) {
  if (info.server_port == EncryptedWatch::kDnsPort) return watch_->open_dns_tcp(info);
  if (info.server_port == EncryptedWatch::kImplicitTlsPort) return watch_->open_implicit_tls(info);
  if (spare_connections_.empty()) return std::make_unique<Connection>(*this, info);
  std::unique_ptr<Connection> c = std::move(spare_connections_.back());
  spare_connections_.pop_back();
  c->reopen(info);
  return c;
}

void Pipeline::recycle(const flow::ConnectionInfo& /*info*/,
                       std::unique_ptr<flow::StreamConsumer> consumer) {
  // Only Connections are kept; open()'s other consumers (DNS, implicit TLS) are freed.
  auto* connection = dynamic_cast<Connection*>(consumer.get());
  if (connection == nullptr || spare_connections_.size() >= kMaxSpareConnections) return;
  spare_connections_.emplace_back(static_cast<Connection*>(consumer.release()));
}

void Pipeline::judge(const flow::ConnectionInfo& info, const FlowContext& ctx,
                     const smtp::RecipientEvent& event) {
  if (!ctx.judged) {
    ++counters_.recipients_skipped_direction;
    return;
  }
  ++counters_.recipients_checked;
  if (event.domain.empty()) return;
  // The configured rules, then (--learn) the learned ones: the same order as for server names.
  const std::optional<NameVerdict> verdict = watch_->judge_name(event.domain);
  if (!verdict) return;
  ++counters_.alerts;

  alert::Alert a = verdict_alert(*verdict, event.ts);
  fill_flow(a, info);
  a.helo = std::string(event.helo);
  a.mail_from = std::string(event.mail_from);
  a.rcpt_to = std::string(event.rcpt_to);
  a.rcpt_reply = event.reply;
  a.transaction = event.transaction;
  a.community_id = ctx.community_id(info);  // worked out once per connection
  a.direction = std::string(fleet::to_string(ctx.direction));
  if (evidence_) a.evidence = evidence_->on_alert(ctx.key, info.id, info.first_seen);
  identity_sink_.write_alert(a);  // the sensor's identity and the per-rule count, as for every alert
}

void Pipeline::write_flow_fields(alert::JsonWriter& w, const flow::ConnectionInfo& info,
                                 const FlowContext& ctx, Timestamp ts,
                                 std::string_view event_type) const {
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
  alert::write_identity_fields(w, config_.sensor_name, config_.in_iface, ctx.community_id(info),
                               fleet::to_string(ctx.direction));
}

void Pipeline::log_transaction(const flow::ConnectionInfo& info, const FlowContext& ctx,
                               const smtp::TransactionEvent& event) {
  event_buffer_.clear();
  alert::JsonWriter w(event_buffer_);
  w.begin_object();
  write_flow_fields(w, info, ctx, event.ts, "smtp");
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

void Pipeline::log_tls(const flow::ConnectionInfo& info, const FlowContext& ctx, Timestamp ts) {
  // Always reported: from here on this connection is a blind spot, and the SOC should know.
  event_buffer_.clear();
  alert::JsonWriter w(event_buffer_);
  w.begin_object();
  write_flow_fields(w, info, ctx, ts, "smtp");
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
  w.field("timestamps_clamped", source.timestamps_clamped);
  if (source.has_kernel_filter) {
    // eBPF capture: what the in-kernel filter saw and kept (summed per-CPU counters).
    w.key("bpf");
    w.begin_object();
    w.field("seen", source.filter_seen);
    w.field("matched", source.filter_matched);
    w.field("ringbuf_full", source.filter_ringbuf_full);
    w.field("truncated", source.filter_truncated);
    w.field("malformed", source.filter_malformed);
    w.end_object();
  }
  w.end_object();

  w.key("decoder");
  w.begin_object();
  w.field("packets", d.packets);
  w.field("tcp", d.tcp);
  w.field("not_tcp", d.not_tcp);
  w.field("udp", d.udp);
  w.field("not_ip", d.not_ip);
  w.field("unsupported_link", d.unsupported_link);
  w.field("malformed", d.malformed);
  w.field("ipv4", d.ipv4);
  w.field("ipv6", d.ipv6);
  w.field("vlan_tags", d.vlan_tags);
  w.field("fragments", d.fragments);
  w.field("fragments_reassembled", d.fragments_reassembled);
  w.field("fragments_dropped", d.fragments_dropped);
  w.field("fragments_held", d.fragments_held);
  w.field("fragments_overlap", d.fragments_overlap);
  w.field("fragment_datagrams_expired", d.fragment_datagrams_expired);
  w.field("truncated", d.truncated);
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
  w.field("gaps_forced_total_cap", t.gaps_forced_total_cap);
  w.field("flows_flushed", t.flows_flushed);
  w.field("segments_without_flow", t.segments_without_flow);
  w.field("segments_after_close", t.segments_after_close);
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
  w.field("malformed_commands", s.malformed_commands);
  w.field("malformed_replies", s.malformed_replies);
  w.field("unmatched_replies", s.unmatched_replies);
  w.field("auth_lines", s.auth_lines);
  w.field("pending_overflow", s.pending_overflow);
  w.field("recipients_over_limit", s.recipients_over_limit);
  w.field("rcpt_without_mail", s.rcpt_without_mail);
  w.field("resync_skipped_lines", s.resync_skipped_lines);
  w.field("data_rejected_after_body", s.data_rejected_after_body);
  w.field("one_sided_sessions", s.one_sided_sessions);
  w.field("server_bytes_ignored", s.server_bytes_ignored);
  w.field("bdat_chunks", s.bdat_chunks);
  w.end_object();

  w.key("detect");
  w.begin_object();
  w.field("recipients_checked", counters_.recipients_checked);
  w.field("alerts", counters_.alerts);
  w.field("recipients_skipped_direction", counters_.recipients_skipped_direction);
  w.key("alerts_by_rule");
  w.begin_object();
  for (const auto& [rule_id, count] : counters_.alerts_by_rule) w.field(std::to_string(rule_id), count);
  w.end_object();
  w.end_object();

  // The pipeline's own verdict cache (app/name_verdict_cache.h): its hits depend on how the
  // traffic is split among workers, so they are apart from the detect counters.
  w.key("verdict_cache");
  w.begin_object();
  w.field("hits", watch_->verdict_cache().hits());
  w.field("misses", watch_->verdict_cache().misses());
  w.end_object();

  if (evidence_) {
    const fleet::EvidenceCounters& e = evidence_->counters();
    w.key("evidence");
    w.begin_object();
    w.field("frames_held", e.frames_held);
    w.field("flows_held", e.flows_held);
    w.field("bytes_held", e.bytes_held);
    w.field("flows_capped", e.flows_capped);
    w.field("frames_over_cap", e.frames_over_cap);
    w.field("flows_evicted", e.flows_evicted);
    w.field("flows_released", e.flows_released);
    w.field("files_written", e.files_written);
    w.field("files_rotated", e.files_rotated);
    w.field("write_errors", e.write_errors);
    w.end_object();
  }

  watch_->write_stats(w);
  if (extra) extra(w);
  w.end_object();
  w.end_object();
  return out;
}

}  // namespace rcptwatch::app
