// The Alert value type: everything a SOC needs about one recipient at a lookalike domain.
// Built by the pipeline from the flow, SMTP and detect stages; formatted by alert/format_*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

  // De-duplication: how many identical alerts (same sender, recipient, rule) were suppressed
  // in the window before this one.
  std::uint32_t repeat_count = 0;
};

}  // namespace rcptwatch::alert
