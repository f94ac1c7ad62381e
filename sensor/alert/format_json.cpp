// Alert -> one JSON object, in the Suricata EVE style the SOC already parses.
#include "alert/format_json.h"

#include "alert/json_writer.h"

namespace rcptwatch::alert {

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
  w.field("proto", "TCP");
  w.field("app_proto", "smtp");
  w.field("capture", a.capture);
  w.field("repeat_count", a.repeat_count);

  w.key("alert");
  w.begin_object();
  w.field("signature_id", a.signature_id);
  w.field("signature", a.signature);
  w.field("severity", detect::to_string(a.severity));
  w.end_object();

  w.key("smtp");
  w.begin_object();
  w.field("helo", a.helo);
  w.field("mail_from", a.mail_from);
  w.field("rcpt_to", a.rcpt_to);
  w.field("rcpt_reply", a.rcpt_reply);
  w.field("transaction", a.transaction);
  w.end_object();

  w.key("lookalike");
  w.begin_object();
  w.field("domain", a.domain);
  w.field("domain_unicode", a.domain_unicode.empty() ? a.domain : a.domain_unicode);
  w.field("protected", a.protected_domain);
  w.field("technique", a.technique);
  w.field("distance", a.distance);
  w.end_object();

  w.end_object();
}

}  // namespace rcptwatch::alert
