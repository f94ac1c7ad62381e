// What an encrypted SMTP session still shows (issue 11): DNS questions and answers about
// lookalike domains (UDP and TCP port 53), connections to addresses learned from lookalike MX
// answers, the server's greeting and EHLO host names, and the TLS SNI. Owned by the Pipeline;
// raises alerts with lookalike.source saying where the name was seen.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "alert/json_writer.h"
#include "alert/sink.h"
#include "app/name_verdict_cache.h"
#include "decode/decoder.h"
#include "detect/matcher.h"
#include "dns/message.h"
#include "dns/mx_correlator.h"
#include "flow/connection.h"
#include "tls/client_hello.h"

namespace rcptwatch::app {

struct WatchCounters {
  std::uint64_t dns_messages = 0;       // UDP datagrams / TCP messages on port 53 parsed
  std::uint64_t dns_malformed = 0;      // refused by the parser
  std::uint64_t dns_capped = 0;         // messages with more questions/records than kept
  std::uint64_t dns_tcp_desync = 0;     // TCP DNS directions abandoned after a gap
  std::uint64_t dns_alerts = 0;
  std::uint64_t mx_correlation_alerts = 0;
  std::uint64_t server_name_alerts = 0;  // greeting / EHLO host
  std::uint64_t sni_found = 0;
  std::uint64_t sni_absent = 0;          // complete hello without SNI
  std::uint64_t sni_unparsed = 0;        // not TLS, malformed, or over the byte cap
  std::uint64_t sni_alerts = 0;
};

// An alert for `v` at `ts`: rule, lookalike and learned fields (every alert kind starts here).
alert::Alert verdict_alert(const NameVerdict& v, Timestamp ts);
// The connection's fields of an alert: flow id, endpoints, capture quality.
void fill_flow(alert::Alert& a, const flow::ConnectionInfo& info);

class EncryptedWatch {
 public:
  // `matcher` and `learned` are the Pipeline's own pointers, read at each use (reloads).
  EncryptedWatch(const std::shared_ptr<const detect::Matcher>& matcher,
                 const std::shared_ptr<const detect::Matcher>& learned, alert::AlertSink& sink,
                 dns::CorrelatorLimits limits = {});
  ~EncryptedWatch();
  EncryptedWatch(const EncryptedWatch&) = delete;
  EncryptedWatch& operator=(const EncryptedWatch&) = delete;

  static constexpr std::uint16_t kDnsPort = 53;
  static constexpr std::uint16_t kImplicitTlsPort = 465;  // SMTP submission over TLS (RFC 8314)

  void on_udp(const decode::UdpDatagram& datagram, Timestamp ts);
  // With several workers (--workers) every worker is shown every UDP DNS datagram, but only
  // the one that owns its address pair judges, counts and alerts; the others only learn
  // lookalike MX addresses here, so an SMTP connection in any worker correlates exactly as
  // it would with one worker.
  void learn_udp(const decode::UdpDatagram& datagram, Timestamp ts);
  // Consumer for a TCP connection to port 53 (length-prefixed DNS messages).
  std::unique_ptr<flow::StreamConsumer> open_dns_tcp(const flow::ConnectionInfo& info);

  // The part of an SMTP connection this watch looks at. Cheap when nothing is learned.
  class SmtpWatch {
   public:
    SmtpWatch(EncryptedWatch& owner, const flow::ConnectionInfo& info);
    void on_greeting(std::string_view host, Timestamp ts);
    void on_ehlo_host(std::string_view host, Timestamp ts);
    void on_tls(Timestamp ts);
    void on_tls_client_data(Bytes data, Timestamp ts);
    void on_close(Timestamp ts);

   private:
    void raise_correlation(Timestamp ts, bool tls);
    // Pointers, not references: a recycled Connection assigns its watch anew.
    EncryptedWatch* owner_;
    const flow::ConnectionInfo* info_;
    std::optional<dns::MxBinding> binding_;
    bool correlation_raised_ = false;
    bool tls_ = false;
    std::unique_ptr<tls::SniExtractor> sni_;
  };
  // Consumer for a connection to the implicit-TLS port: only the SNI and the correlation.
  std::unique_ptr<flow::StreamConsumer> open_implicit_tls(const flow::ConnectionInfo& info);

  // Judges a name against the rules (then the learned rules); nullopt if it matches neither.
  // Verdicts are kept in this watch's own NameVerdictCache (one per pipeline, no lock).
  std::optional<NameVerdict> judge_name(std::string_view name) const;
  const NameVerdictCache& verdict_cache() const { return verdicts_; }

  const WatchCounters& counters() const { return counters_; }
  const dns::CorrelatorCounters& correlator_counters() const { return correlator_.counters(); }
  // "dns" and "tls" sections of the stats event.
  void write_stats(alert::JsonWriter& w) const;

  // Handles one whole DNS message between `client` and `server` (exposed for tests).
  void on_dns_message(Bytes message, const IpAddress& client, std::uint16_t client_port,
                      const IpAddress& server, std::uint16_t server_port, std::string_view proto,
                      std::uint64_t flow_id, std::string_view capture, Timestamp ts);

 private:
  class DnsTcpConsumer;
  class ImplicitTlsConsumer;
  std::optional<NameVerdict> judge_uncached(std::string_view name) const;
  void raise_host_alert(const flow::ConnectionInfo& info, const NameVerdict& v,
                        std::string_view source, std::string_view host, std::optional<bool> tls,
                        Timestamp ts);

  const std::shared_ptr<const detect::Matcher>& matcher_;
  const std::shared_ptr<const detect::Matcher>& learned_;
  alert::AlertSink& sink_;
  dns::MxCorrelator correlator_;
  dns::Message message_;  // reused: parsing allocates nothing
  WatchCounters counters_;
  mutable NameVerdictCache verdicts_;  // judge_name() is const: a cache does not change verdicts
};

}  // namespace rcptwatch::app
