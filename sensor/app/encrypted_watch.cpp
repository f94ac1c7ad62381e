// DNS, MX-correlation, server-name and SNI checks: see encrypted_watch.h. Alerts here have no
// envelope; lookalike.source names where the lookalike was seen.
#include "app/encrypted_watch.h"

#include <array>
#include <vector>

namespace rcptwatch::app {
namespace {

bool is_watched_qtype(std::uint16_t t) {
  return t == dns::rr_type::kMx || t == dns::rr_type::kA || t == dns::rr_type::kAaaa;
}

}  // namespace

alert::Alert verdict_alert(const NameVerdict& v, Timestamp ts) {
  const detect::Match& m = v.match;
  alert::Alert a;
  a.ts = ts;
  a.signature_id = m.rule->id;
  a.signature = m.rule->msg;
  a.severity = m.rule->severity;
  a.domain = m.domain;
  a.domain_unicode = m.domain_unicode;
  a.protected_domain = m.protected_domain;
  a.technique = m.technique;
  a.distance = m.distance;
  a.learned = v.learned;
  return a;
}

void fill_flow(alert::Alert& a, const flow::ConnectionInfo& info) {
  a.flow_id = info.id;
  a.src_ip = info.client_ip;
  a.src_port = info.client_port;
  a.dest_ip = info.server_ip;
  a.dest_port = info.server_port;
  a.capture = std::string(flow::to_string(info.quality()));
}

// DNS over TCP (RFC 7766): each message is preceded by its 16-bit length. One buffer per
// direction holds at most one message (64 KiB); a gap loses the framing for good, so that
// direction is abandoned and counted.
class EncryptedWatch::DnsTcpConsumer final : public flow::StreamConsumer {
 public:
  DnsTcpConsumer(EncryptedWatch& owner, const flow::ConnectionInfo& info)
      : owner_(owner), info_(info) {}

  void on_data(flow::StreamDir dir, Bytes data, Timestamp ts) override {
    Direction& d = dirs_[dir == flow::StreamDir::ToServer ? 0 : 1];
    if (d.desynced) return;
    while (!data.empty()) {
      if (d.buffer.empty() && data.size() >= 2) {
        const std::size_t len = (std::size_t{data[0]} << 8) | data[1];
        if (data.size() >= 2 + len) {  // a whole message in place: no copy
          deliver(data.subspan(2, len), ts);
          data = data.subspan(2 + len);
          continue;
        }
      }
      d.buffer.insert(d.buffer.end(), data.begin(), data.end());
      data = {};
      while (d.buffer.size() >= 2) {
        const std::size_t len = (std::size_t{d.buffer[0]} << 8) | d.buffer[1];
        if (d.buffer.size() < 2 + len) break;
        deliver(Bytes(d.buffer).subspan(2, len), ts);
        d.buffer.erase(d.buffer.begin(), d.buffer.begin() + static_cast<std::ptrdiff_t>(2 + len));
      }
    }
  }
  void on_gap(flow::StreamDir dir, std::uint64_t /*length*/, Timestamp /*ts*/) override {
    Direction& d = dirs_[dir == flow::StreamDir::ToServer ? 0 : 1];
    if (!d.desynced) ++owner_.counters_.dns_tcp_desync;
    d.desynced = true;
    d.buffer.clear();
  }
  void on_conflict(flow::StreamDir, Bytes, std::uint64_t, Timestamp) override {}
  void on_close(Timestamp /*ts*/) override {}

 private:
  struct Direction {
    std::vector<std::uint8_t> buffer;  // < 2 + 65535 bytes: one partial message
    bool desynced = false;
  };
  void deliver(Bytes message, Timestamp ts) {
    owner_.on_dns_message(message, info_.client_ip, info_.client_port, info_.server_ip,
                          info_.server_port, "TCP", info_.id, flow::to_string(info_.quality()),
                          ts);
  }
  EncryptedWatch& owner_;
  const flow::ConnectionInfo& info_;
  std::array<Direction, 2> dirs_;
};

// SMTP over implicit TLS (port 465): the first client bytes are the ClientHello.
class EncryptedWatch::ImplicitTlsConsumer final : public flow::StreamConsumer {
 public:
  ImplicitTlsConsumer(EncryptedWatch& owner, const flow::ConnectionInfo& info)
      : watch_(owner, info) {
    watch_.on_tls(info.first_seen);
  }
  void on_data(flow::StreamDir dir, Bytes data, Timestamp ts) override {
    if (dir == flow::StreamDir::ToServer) watch_.on_tls_client_data(data, ts);
  }
  void on_gap(flow::StreamDir, std::uint64_t, Timestamp) override {}
  void on_conflict(flow::StreamDir, Bytes, std::uint64_t, Timestamp) override {}
  void on_close(Timestamp ts) override { watch_.on_close(ts); }

 private:
  EncryptedWatch::SmtpWatch watch_;
};

EncryptedWatch::EncryptedWatch(const std::shared_ptr<const detect::Matcher>& matcher,
                               const std::shared_ptr<const detect::Matcher>& learned,
                               alert::AlertSink& sink, dns::CorrelatorLimits limits)
    : matcher_(matcher), learned_(learned), sink_(sink), correlator_(limits) {}

EncryptedWatch::~EncryptedWatch() = default;

std::optional<NameVerdict> EncryptedWatch::judge_name(std::string_view name) const {
  if (name.empty()) return std::nullopt;
  if (const std::optional<NameVerdict>* kept = verdicts_.find(name, matcher_.get(), learned_.get())) {
    return *kept;
  }
  std::optional<NameVerdict> verdict = judge_uncached(name);
  verdicts_.put(name, verdict);
  return verdict;
}

std::optional<NameVerdict> EncryptedWatch::judge_uncached(std::string_view name) const {
  if (matcher_) {
    if (auto m = matcher_->match(name)) return NameVerdict{std::move(*m), false};
  }
  if (learned_) {
    if (auto m = learned_->match(name)) return NameVerdict{std::move(*m), true};
  }
  return std::nullopt;
}

void EncryptedWatch::on_udp(const decode::UdpDatagram& d, Timestamp ts) {
  if (d.dst_port == kDnsPort && d.src_port != kDnsPort) {
    on_dns_message(d.payload, d.src, d.src_port, d.dst, d.dst_port, "UDP", 0, "complete", ts);
  } else if (d.src_port == kDnsPort) {
    // A response (or server-to-server traffic, where the QR bit decides below).
    on_dns_message(d.payload, d.dst, d.dst_port, d.src, d.src_port, "UDP", 0, "complete", ts);
  }
}

void EncryptedWatch::learn_udp(const decode::UdpDatagram& d, Timestamp ts) {
  // The learning half of on_dns_message(), in the same order, without counters or alerts.
  if (d.src_port != kDnsPort && d.dst_port != kDnsPort) return;
  if (!dns::parse_message(d.payload, message_)) return;
  const dns::Message& msg = message_;
  if (msg.opcode != 0 || !msg.response) return;
  correlator_.learn_address_response(msg, ts);
  for (const dns::Question& q : msg.questions()) {
    if (q.type != dns::rr_type::kMx || !is_watched_qtype(q.type)) continue;
    if (const std::optional<NameVerdict> v = judge_name(q.name.view())) {
      correlator_.learn_mx_response(msg, v->match.domain, ts);
    }
  }
}

std::unique_ptr<flow::StreamConsumer> EncryptedWatch::open_dns_tcp(
    const flow::ConnectionInfo& info) {
  return std::make_unique<DnsTcpConsumer>(*this, info);
}

std::unique_ptr<flow::StreamConsumer> EncryptedWatch::open_implicit_tls(
    const flow::ConnectionInfo& info) {
  return std::make_unique<ImplicitTlsConsumer>(*this, info);
}

void EncryptedWatch::on_dns_message(Bytes message, const IpAddress& client,
                                    std::uint16_t client_port, const IpAddress& server,
                                    std::uint16_t server_port, std::string_view proto,
                                    std::uint64_t flow_id, std::string_view capture,
                                    Timestamp ts) {
  ++counters_.dns_messages;
  if (!dns::parse_message(message, message_)) {
    ++counters_.dns_malformed;
    return;
  }
  const dns::Message& msg = message_;
  if (msg.capped) ++counters_.dns_capped;
  if (msg.opcode != 0) return;  // only standard queries ask for names
  if (msg.response) correlator_.learn_address_response(msg, ts);
  for (const dns::Question& q : msg.questions()) {
    if (!is_watched_qtype(q.type)) continue;
    const std::optional<NameVerdict> v = judge_name(q.name.view());
    if (!v) continue;
    if (msg.response && q.type == dns::rr_type::kMx) {
      correlator_.learn_mx_response(msg, v->match.domain, ts);
    }
    ++counters_.dns_alerts;
    alert::Alert a = verdict_alert(*v, ts);
    a.flow_id = flow_id;
    a.src_ip = client;
    a.src_port = client_port;
    a.dest_ip = server;
    a.dest_port = server_port;
    a.capture = std::string(capture);
    a.proto = std::string(proto);
    a.app_proto = "dns";
    a.source = "dns";
    // Not emplace(): clang decides whether Dns is default-constructible while Alert is still
    // incomplete (its member initialisers unparsed) and rejects it; a move is fine for both.
    a.dns = alert::Alert::Dns{};
    alert::Alert::Dns& d = *a.dns;
    std::array<char, 12> buf{};
    d.type = msg.response ? "response" : "query";
    d.id = msg.id;
    d.rrname = std::string(q.name.view());
    d.rrtype = std::string(dns::type_name(q.type, buf));
    if (msg.response) {
      d.rcode = std::string(dns::rcode_name(msg.rcode, buf));
      for (const dns::Record& r : msg.records()) {
        if (r.type == dns::rr_type::kOpt) continue;
        alert::Alert::DnsAnswer& an = d.answers.emplace_back();
        an.rrname = std::string(r.name.view());
        an.rrtype = std::string(dns::type_name(r.type, buf));
        an.ttl = r.ttl;
        if (r.rdata_decoded) {
          an.rdata = r.type == dns::rr_type::kA || r.type == dns::rr_type::kAaaa
                         ? r.address.to_string()
                         : std::string(r.target.view());
        }
        if (r.type == dns::rr_type::kMx) an.preference = r.preference;
        an.section = std::string(dns::to_string(r.section));
      }
    }
    sink_.write_alert(a);
  }
}

void EncryptedWatch::raise_host_alert(const flow::ConnectionInfo& info, const NameVerdict& v,
                                      std::string_view source, std::string_view host,
                                      std::optional<bool> tls, Timestamp ts) {
  alert::Alert a = verdict_alert(v, ts);
  fill_flow(a, info);
  a.source = std::string(source);
  a.server_name = std::string(host);
  a.tls = tls;
  sink_.write_alert(a);
}

EncryptedWatch::SmtpWatch::SmtpWatch(EncryptedWatch& owner, const flow::ConnectionInfo& info)
    : owner_(&owner), info_(&info) {
  binding_ = owner_->correlator_.lookup(info.server_ip, info.first_seen);
}

void EncryptedWatch::SmtpWatch::on_greeting(std::string_view host, Timestamp ts) {
  if (auto v = owner_->judge_name(host)) {
    ++owner_->counters_.server_name_alerts;
    owner_->raise_host_alert(*info_, *v, "greeting", host, std::nullopt, ts);
  }
}

void EncryptedWatch::SmtpWatch::on_ehlo_host(std::string_view host, Timestamp ts) {
  if (auto v = owner_->judge_name(host)) {
    ++owner_->counters_.server_name_alerts;
    owner_->raise_host_alert(*info_, *v, "ehlo", host, std::nullopt, ts);
  }
}

void EncryptedWatch::SmtpWatch::on_tls(Timestamp ts) {
  tls_ = true;
  // Raised now rather than at close: the connection may stay open for long, and from here
  // on nothing more will be learned about it.
  if (binding_ && !correlation_raised_) raise_correlation(ts, true);
}

void EncryptedWatch::SmtpWatch::on_tls_client_data(Bytes data, Timestamp ts) {
  if (!sni_) sni_ = std::make_unique<tls::SniExtractor>();  // only TLS connections pay
  if (sni_->done()) return;
  const tls::SniResult r = sni_->feed(data);
  switch (r.status) {
    case tls::SniStatus::NeedMore:
      return;
    case tls::SniStatus::Found:
      ++owner_->counters_.sni_found;
      if (auto v = owner_->judge_name(r.server_name)) {
        ++owner_->counters_.sni_alerts;
        owner_->raise_host_alert(*info_, *v, "sni", r.server_name, true, ts);
      }
      return;
    case tls::SniStatus::NoSni:
      ++owner_->counters_.sni_absent;
      return;
    case tls::SniStatus::NotTls:
    case tls::SniStatus::Malformed:
      ++owner_->counters_.sni_unparsed;
      return;
  }
}

void EncryptedWatch::SmtpWatch::on_close(Timestamp ts) {
  if (binding_ && !correlation_raised_) raise_correlation(ts, tls_);
}

void EncryptedWatch::SmtpWatch::raise_correlation(Timestamp ts, bool tls) {
  correlation_raised_ = true;
  const std::optional<NameVerdict> v = owner_->judge_name(binding_->domain);
  if (!v) return;  // the rules changed since the answer was seen
  ++owner_->counters_.mx_correlation_alerts;
  alert::Alert a = verdict_alert(*v, ts);
  fill_flow(a, *info_);
  a.technique = "mx-correlation";
  a.source = "mx-correlation";
  a.mx_host = binding_->mx_host;
  a.tls = tls;
  owner_->sink_.write_alert(a);
}

void EncryptedWatch::write_stats(alert::JsonWriter& w) const {
  const auto& c = counters_;
  const auto& x = correlator_.counters();
  w.key("dns");
  w.begin_object();
  w.field("messages", c.dns_messages);
  w.field("malformed", c.dns_malformed);
  w.field("capped", c.dns_capped);
  w.field("tcp_desync", c.dns_tcp_desync);
  w.field("alerts", c.dns_alerts);
  w.field("mx_hosts_learned", x.hosts_learned);
  w.field("mx_addresses_learned", x.addresses_learned);
  w.field("mx_expired", x.expired);
  w.field("mx_evicted_cap", x.evicted_cap);
  w.field("mx_correlation_hits", x.hits);
  w.field("mx_correlation_alerts", c.mx_correlation_alerts);
  w.end_object();
  w.key("tls");
  w.begin_object();
  w.field("sni_found", c.sni_found);
  w.field("sni_absent", c.sni_absent);
  w.field("sni_unparsed", c.sni_unparsed);
  w.field("sni_alerts", c.sni_alerts);
  w.field("server_name_alerts", c.server_name_alerts);
  w.end_object();
}

}  // namespace rcptwatch::app
