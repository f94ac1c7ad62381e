// The Alert value type: everything a SOC needs about one recipient at a lookalike domain.
// Built by the pipeline from the flow, SMTP and detect stages; formatted by alert/format_*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"
#include "detect/rules.h"

namespace rcptwatch::alert {

using detect::Severity;

struct Alert {
  Timestamp ts;                 // time of the packet that carried the RCPT command
  std::uint64_t flow_id = 0;
  IpAddress src_ip;             // the SMTP client
  std::uint16_t src_port = 0;
  IpAddress dest_ip;            // the SMTP server
  std::uint16_t dest_port = 0;
  std::string capture;          // "complete", "midstream", "one_sided"
  // Fleet identity (issue 12): which sensor, which capture, which flow across sensors.
  std::string sensor_name;      // --sensor-name, default the host name
  std::string in_iface;         // capture interface, or the file name of a replay
  std::string community_id;     // Community ID v1 of the connection
  std::string direction = "unknown";  // network.direction: outbound, inbound, internal, external
  std::string evidence;         // evidence pcap file name in --evidence-dir; empty: none

  std::uint32_t signature_id = 0;
  std::string signature;        // rule message
  Severity severity = Severity::High;

  std::string helo;
  std::string mail_from;
  std::string rcpt_to;
  std::optional<int> rcpt_reply;
  std::uint32_t transaction = 0;

  std::string domain;            // observed recipient domain, normalised (A-labels)
  std::string domain_unicode;    // the same with xn-- labels decoded, for people
  std::string protected_domain;  // what it imitates
  std::string technique;
  std::uint32_t distance = 0;

  // Alerts that do not come from a recipient (issue 11). Defaults keep the original output:
  // a field is written only when it differs from its default.
  std::string proto = "TCP";
  std::string app_proto = "smtp";  // "dns" alerts carry `dns` instead of the `smtp` object
  // lookalike.source: where the name was seen: "dns", "sni", "greeting", "ehlo",
  // "mx-correlation"; empty means "rcpt" (the recipient of an envelope) and is not written.
  std::string source;
  bool learned = false;          // lookalike.learned: protected because it was learned
  std::string mx_host;           // lookalike.mx_host (mx-correlation): the MX host name
  std::optional<bool> tls;       // smtp.tls
  std::string server_name;       // smtp.server_name: the greeting/EHLO host or SNI judged

  struct DnsAnswer {
    std::string rrname;
    std::string rrtype;
    std::uint32_t ttl = 0;
    std::string rdata;           // address, MX exchange or CNAME target ("" if not decoded)
    std::optional<std::uint32_t> preference;  // MX
    std::string section;         // "answer", "authority", "additional"
  };
  struct Dns {
    std::string type;            // "query" or "response"
    std::uint32_t id = 0;
    std::string rrname;          // the question name
    std::string rrtype;          // the question type
    std::optional<std::string> rcode;  // responses only
    std::vector<DnsAnswer> answers;    // responses only
  };
  std::optional<Dns> dns;

  // De-duplication: how many identical alerts (same sender, recipient, rule) were suppressed
  // in the window before this one.
  std::uint32_t repeat_count = 0;
};

}  // namespace rcptwatch::alert
