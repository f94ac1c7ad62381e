// Alert formats a SIEM parses without custom work: JSON lines, syslog RFC 5424 and RFC 3164,
// ArcSight CEF and QRadar LEEF 2.0. One severity mapping for all of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "alert/alert.h"

namespace rcptwatch::alert {

enum class Format : std::uint8_t { Json, Rfc5424, Rfc3164, Cef, Leef };

tl::expected<Format, std::string> parse_format(std::string_view name);
std::string_view to_string(Format f);

// What a formatter needs besides the alert itself.
struct FormatContext {
  std::string hostname = "-";
  std::uint32_t pid = 0;
  std::string version = "0";
  std::uint8_t facility = 16;       // syslog facility; 16 = local0
  std::size_t max_bytes = 8192;     // collector's limit; free-text fields are cut to fit
};

// Severity mappings: rule severity -> syslog severity (RFC 5424 numbers) -> CEF 0-10.
std::uint8_t syslog_severity(Severity s);  // critical 2, high 3, medium 4, low 5
std::uint8_t cef_severity(Severity s);     // critical 10, high 8, medium 5, low 3

// Appends the formatted alert (no trailing newline; framing is the output's job). Fields are
// truncated with the mark "[...]" so that the result stays within ctx.max_bytes.
void format_alert(Format format, const Alert& a, const FormatContext& ctx, std::string& out);

// Syslog headers shared by alerts and other events: "<PRI>1 TIMESTAMP HOST rcptwatch PID MSGID"
// (RFC 5424, no trailing space) and "<PRI>Mmm dd hh:mm:ss HOST rcptwatch[PID]: " (RFC 3164).
void append_rfc5424_header(std::string& out, const FormatContext& ctx, std::uint8_t severity,
                           Timestamp ts, std::string_view msgid);
void append_rfc3164_header(std::string& out, const FormatContext& ctx, std::uint8_t severity,
                           Timestamp ts);

// Escapers, exposed for tests.
void append_sd_param_value(std::string& out, std::string_view v);  // RFC 5424: " \ ]
void append_cef_header(std::string& out, std::string_view v);      // CEF header: | \ .
void append_cef_value(std::string& out, std::string_view v);       // CEF extension: \ = CR LF
void append_leef_value(std::string& out, std::string_view v);      // LEEF: ^ delimiter, tab, CR LF

}  // namespace rcptwatch::alert
