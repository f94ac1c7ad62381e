// Formatters for syslog (RFC 5424 / 3164), CEF and LEEF, with their escaping rules.
#include "alert/formats.h"

#include <ctime>

#include "alert/format_json.h"

namespace rcptwatch::alert {
namespace {

constexpr std::string_view kTruncationMark = "[...]";
constexpr std::string_view kVendor = "rcptwatch";
// Private SD-ID; 32473 is the enterprise number RFC 5612 reserves for documentation.
constexpr std::string_view kSdId = "rcptwatch@32473";

std::string human_message(const Alert& a) {
  if (!a.source.empty()) {
    // No envelope (DNS, SNI, server names, MX correlation): say where the name was seen.
    std::string m = "lookalike domain ";
    m += a.domain;
    m += " (imitates ";
    m += a.protected_domain;
    m += " by ";
    m += a.technique;
    m += ") seen in ";
    m += a.source;
    if (!a.mx_host.empty()) {
      m += " via MX ";
      m += a.mx_host;
    }
    return m;
  }
  std::string m = "lookalike recipient ";
  m += a.rcpt_to;
  m += " (";
  m += a.domain;
  m += " imitates ";
  m += a.protected_domain;
  m += " by ";
  m += a.technique;
  m += ") from ";
  m += a.mail_from.empty() ? std::string("<>") : a.mail_from;
  return m;
}

std::string_view reply_text(const Alert& a, std::string& buf) {
  if (!a.rcpt_reply) return "unknown";
  buf = std::to_string(*a.rcpt_reply);
  return buf;
}

void format_rfc5424(const Alert& a, const FormatContext& ctx, std::string& out) {
  append_rfc5424_header(out, ctx, syslog_severity(a.severity), a.ts, "LOOKALIKE");
  out += " [";
  out += kSdId;
  std::string reply_buf;
  const std::pair<std::string_view, std::string> params[] = {
      {"sid", std::to_string(a.signature_id)}, {"severity", std::string(detect::to_string(a.severity))},
      {"src", a.src_ip.to_string()},            {"spt", std::to_string(a.src_port)},
      {"dst", a.dest_ip.to_string()},           {"dpt", std::to_string(a.dest_port)},
      {"helo", a.helo},                         {"mailFrom", a.mail_from},
      {"rcptTo", a.rcpt_to},                    {"rcptReply", std::string(reply_text(a, reply_buf))},
      {"domain", a.domain},                     {"protected", a.protected_domain},
      {"technique", a.technique},               {"distance", std::to_string(a.distance)},
      {"capture", a.capture},                   {"flowId", std::to_string(a.flow_id)},
      {"repeatCount", std::to_string(a.repeat_count)},
  };
  for (const auto& [name, value] : params) {
    out += ' ';
    out += name;
    out += "=\"";
    append_sd_param_value(out, value);
    out += '"';
  }
  out += "] \xEF\xBB\xBF";  // BOM: the message is UTF-8
  out += human_message(a);
}

void format_rfc3164(const Alert& a, const FormatContext& ctx, std::string& out) {
  append_rfc3164_header(out, ctx, syslog_severity(a.severity), a.ts);
  std::string msg = human_message(a);
  // RFC 3164 has no structure; keep the message on one line.
  for (char& c : msg) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  out += msg;
  out += " sid=";
  out += std::to_string(a.signature_id);
  out += " src=";
  out += a.src_ip.to_string();
  out += " dst=";
  out += a.dest_ip.to_string();
}

void format_cef(const Alert& a, const FormatContext& ctx, std::string& out) {
  out += "CEF:0|";
  append_cef_header(out, kVendor);
  out += '|';
  append_cef_header(out, kVendor);
  out += '|';
  append_cef_header(out, ctx.version);
  out += '|';
  out += std::to_string(a.signature_id);
  out += '|';
  append_cef_header(out, a.signature);
  out += '|';
  out += std::to_string(cef_severity(a.severity));
  out += '|';
  std::string reply_buf;
  const std::pair<std::string_view, std::string> ext[] = {
      {"rt", std::to_string(a.ts.usec / 1000)},
      {"src", a.src_ip.to_string()},
      {"spt", std::to_string(a.src_port)},
      {"dst", a.dest_ip.to_string()},
      {"dpt", std::to_string(a.dest_port)},
      {"proto", "TCP"},
      {"app", "smtp"},
      {"suser", a.mail_from},
      {"duser", a.rcpt_to},
      {"act", "alert"},
      {"msg", human_message(a)},
      {"cs1Label", "lookalikeDomain"},
      {"cs1", a.domain},
      {"cs2Label", "protectedDomain"},
      {"cs2", a.protected_domain},
      {"cs3Label", "technique"},
      {"cs3", a.technique},
      {"cs4Label", "helo"},
      {"cs4", a.helo},
      {"cs5Label", "capture"},
      {"cs5", a.capture},
      {"cs6Label", "rcptReply"},
      {"cs6", std::string(reply_text(a, reply_buf))},
      {"cn1Label", "distance"},
      {"cn1", std::to_string(a.distance)},
      {"cn2Label", "flowId"},
      {"cn2", std::to_string(a.flow_id)},
      {"cnt", std::to_string(a.repeat_count + 1)},
  };
  bool first = true;
  for (const auto& [key, value] : ext) {
    if (!first) out += ' ';
    first = false;
    out += key;
    out += '=';
    append_cef_value(out, value);
  }
}

void format_leef(const Alert& a, const FormatContext& ctx, std::string& out) {
  // LEEF 2.0 with a declared delimiter: '^'. Not tab: syslog relays (rsyslog by default)
  // rewrite control characters as "#011", which breaks tab-delimited LEEF on the way.
  out += "LEEF:2.0|";
  out += kVendor;
  out += '|';
  out += kVendor;
  out += '|';
  out += ctx.version;
  out += "|LOOKALIKE|^|";
  std::string reply_buf;
  const std::pair<std::string_view, std::string> attrs[] = {
      {"devTime", format_rfc3339(a.ts)},
      {"devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"},
      {"cat", "lookalike-recipient"},
      {"sev", std::to_string(cef_severity(a.severity))},
      {"src", a.src_ip.to_string()},
      {"srcPort", std::to_string(a.src_port)},
      {"dst", a.dest_ip.to_string()},
      {"dstPort", std::to_string(a.dest_port)},
      {"proto", "TCP"},
      {"usrName", a.mail_from},
      {"sender", a.mail_from},
      {"recipient", a.rcpt_to},
      {"rcptReply", std::string(reply_text(a, reply_buf))},
      {"helo", a.helo},
      {"sid", std::to_string(a.signature_id)},
      {"signature", a.signature},
      {"lookalikeDomain", a.domain},
      {"protectedDomain", a.protected_domain},
      {"technique", a.technique},
      {"distance", std::to_string(a.distance)},
      {"capture", a.capture},
      {"flowId", std::to_string(a.flow_id)},
      {"repeatCount", std::to_string(a.repeat_count)},
  };
  bool first = true;
  for (const auto& [key, value] : attrs) {
    if (!first) out += '^';
    first = false;
    out += key;
    out += '=';
    append_leef_value(out, value);
  }
}

void format_unbounded(Format format, const Alert& a, const FormatContext& ctx, std::string& out) {
  switch (format) {
    case Format::Json: format_json(a, out); return;
    case Format::Rfc5424: format_rfc5424(a, ctx, out); return;
    case Format::Rfc3164: format_rfc3164(a, ctx, out); return;
    case Format::Cef: format_cef(a, ctx, out); return;
    case Format::Leef: format_leef(a, ctx, out); return;
  }
}

// Cuts `s` to at most `keep` bytes (not inside a UTF-8 sequence) and appends the mark.
void truncate_field(std::string& s, std::size_t keep) {
  if (s.size() <= keep) return;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  s += kTruncationMark;
}

}  // namespace

void append_rfc5424_header(std::string& out, const FormatContext& ctx, std::uint8_t severity,
                           Timestamp ts, std::string_view msgid) {
  out += '<';
  out += std::to_string(ctx.facility * 8 + severity);
  out += ">1 ";
  out += format_rfc3339(ts);
  out += ' ';
  out += ctx.hostname.empty() ? std::string("-") : ctx.hostname;
  out += " rcptwatch ";
  out += std::to_string(ctx.pid);
  out += ' ';
  out += msgid;
}

void append_rfc3164_header(std::string& out, const FormatContext& ctx, std::uint8_t severity,
                           Timestamp ts) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(ts.usec / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%s %2d %02d:%02d:%02d", kMonths[tm.tm_mon], tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  out += '<';
  out += std::to_string(ctx.facility * 8 + severity);
  out += '>';
  out += stamp;
  out += ' ';
  out += ctx.hostname.empty() ? std::string("-") : ctx.hostname;
  out += " rcptwatch[";
  out += std::to_string(ctx.pid);
  out += "]: ";
}

tl::expected<Format, std::string> parse_format(std::string_view name) {
  if (name == "json") return Format::Json;
  if (name == "rfc5424") return Format::Rfc5424;
  if (name == "rfc3164") return Format::Rfc3164;
  if (name == "cef") return Format::Cef;
  if (name == "leef") return Format::Leef;
  return tl::unexpected("unknown format '" + std::string(name) +
                        "' (json, rfc5424, rfc3164, cef, leef)");
}

std::string_view to_string(Format f) {
  switch (f) {
    case Format::Json: return "json";
    case Format::Rfc5424: return "rfc5424";
    case Format::Rfc3164: return "rfc3164";
    case Format::Cef: return "cef";
    case Format::Leef: return "leef";
  }
  return "json";
}

std::uint8_t syslog_severity(Severity s) {
  switch (s) {
    case Severity::Critical: return 2;
    case Severity::High: return 3;
    case Severity::Medium: return 4;
    case Severity::Low: return 5;
  }
  return 4;
}

std::uint8_t cef_severity(Severity s) {
  switch (s) {
    case Severity::Critical: return 10;
    case Severity::High: return 8;
    case Severity::Medium: return 5;
    case Severity::Low: return 3;
  }
  return 5;
}

void format_alert(Format format, const Alert& a, const FormatContext& ctx, std::string& out) {
  const std::size_t start = out.size();
  format_unbounded(format, a, ctx, out);
  if (out.size() - start <= ctx.max_bytes) return;
  // Too long for the collector: shorten the free-text fields, longest first, until it fits.
  Alert cut = a;
  std::string* fields[] = {&cut.rcpt_to, &cut.mail_from, &cut.helo, &cut.signature, &cut.domain};
  for (int round = 0; round < 64; ++round) {
    std::string* longest = fields[0];
    for (std::string* f : fields) {
      if (f->size() > longest->size()) longest = f;
    }
    if (longest->size() <= kTruncationMark.size() * 2) break;
    truncate_field(*longest, longest->size() / 2);
    out.resize(start);
    format_unbounded(format, cut, ctx, out);
    if (out.size() - start <= ctx.max_bytes) return;
  }
  // Fixed fields alone exceed the limit (an absurdly small max_bytes): hard cut.
  if (out.size() - start > ctx.max_bytes) out.resize(start + ctx.max_bytes);
}

void append_sd_param_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
}

void append_cef_header(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '|' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') {
      out += ' ';
      continue;
    }
    out += c;
  }
}

void append_cef_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '=': out += "\\="; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

void append_leef_value(std::string& out, std::string_view v) {
  // The delimiter and control characters cannot appear in a LEEF value; replace them.
  for (char c : v) {
    out += (c == '^' || c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
  }
}

}  // namespace rcptwatch::alert
