// A fixed alert used by the formatter tests.
#pragma once

#include "alert/alert.h"

namespace rcptwatch::alert {

inline Alert sample_alert() {
  Alert a;
  a.ts = Timestamp{1689581730123456};
  a.flow_id = 7;
  const std::uint8_t src[4] = {10, 99, 0, 1};
  const std::uint8_t dst[4] = {10, 99, 0, 2};
  a.src_ip = IpAddress::v4(src);
  a.src_port = 40000;
  a.dest_ip = IpAddress::v4(dst);
  a.dest_port = 25;
  a.capture = "complete";
  a.signature_id = 1;
  a.signature = "Lookalike of \"mil\"";
  a.severity = Severity::Critical;
  a.helo = "client.example";
  a.mail_from = "alice@example.com";
  a.rcpt_to = "\"john doe\"@army.ml";
  a.rcpt_reply = 250;
  a.transaction = 1;
  a.domain = "army.ml";
  a.protected_domain = "mil";
  a.technique = "tld-omission";
  a.distance = 1;
  return a;
}

}  // namespace rcptwatch::alert
