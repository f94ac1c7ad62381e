// Alert -> one JSON object, in the Suricata EVE style the SOC already parses.
#include "alert/format_json.h"

#include "alert/json_writer.h"

namespace rcptwatch::alert {

void write_identity_fields(JsonWriter& w, std::string_view sensor_name, std::string_view in_iface,
                           std::string_view community_id, std::string_view direction) {
  w.field("sensor_name", sensor_name);
  w.field("in_iface", in_iface);
  w.field("community_id", community_id);
  w.key("network");
  w.begin_object();
  w.field("direction", direction);
  w.end_object();
}

void format_json(const Alert& a, std::string& out) {
  JsonWriter w(out);
  w.begin_object();
  w.field("timestamp", format_rfc3339(a.ts));
  w.field("flow_id", a.flow_id);
  w.field("event_type", "alert");
  w.field("src_ip", a.src_ip.to_string());
  w.field("src_port", static_cast<std::uint32_t>(a.src_port));
  w.field("dest_ip", a.dest_ip.to_string());
  w.field("dest_port", static_cast<std::uint32_t>(a.dest_port));
  w.field("proto", a.proto);
  w.field("app_proto", a.app_proto);
  w.field("capture", a.capture);
  w.field("repeat_count", a.repeat_count);
  write_identity_fields(w, a.sensor_name, a.in_iface, a.community_id, a.direction);
  if (!a.evidence.empty()) w.field("evidence", a.evidence);

  w.key("alert");
  w.begin_object();
  w.field("signature_id", a.signature_id);
  w.field("signature", a.signature);
  w.field("severity", detect::to_string(a.severity));
  w.end_object();

  if (a.dns) {
    const Alert::Dns& d = *a.dns;
    w.key("dns");
    w.begin_object();
    w.field("type", d.type);
    w.field("id", d.id);
    w.field("rrname", d.rrname);
    w.field("rrtype", d.rrtype);
    if (d.rcode) {
      w.field("rcode", *d.rcode);
      w.key("answers");
      w.begin_array();
      for (const Alert::DnsAnswer& an : d.answers) {
        w.begin_object();
        w.field("rrname", an.rrname);
        w.field("rrtype", an.rrtype);
        w.field("ttl", an.ttl);
        w.field("rdata", an.rdata);
        if (an.preference) w.field("preference", *an.preference);
        w.field("section", an.section);
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
  } else {
    w.key("smtp");
    w.begin_object();
    w.field("helo", a.helo);
    w.field("mail_from", a.mail_from);
    w.field("rcpt_to", a.rcpt_to);
    w.field("rcpt_reply", a.rcpt_reply);
    w.field("transaction", a.transaction);
    if (a.tls) w.field("tls", *a.tls);
    if (!a.server_name.empty()) w.field("server_name", a.server_name);
    w.end_object();
  }

  w.key("lookalike");
  w.begin_object();
  w.field("domain", a.domain);
  w.field("domain_unicode", a.domain_unicode.empty() ? a.domain : a.domain_unicode);
  w.field("protected", a.protected_domain);
  w.field("technique", a.technique);
  w.field("distance", a.distance);
  if (!a.source.empty()) w.field("source", a.source);
  if (a.learned) w.field("learned", true);
  if (!a.mx_host.empty()) w.field("mx_host", a.mx_host);
  w.end_object();

  w.end_object();
}

}  // namespace rcptwatch::alert
