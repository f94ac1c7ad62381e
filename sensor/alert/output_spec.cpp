// Parser for the `--output URI` grammar; see output_spec.h for the accepted forms.
#include "alert/output_spec.h"

#include <arpa/inet.h>

#include <charconv>

namespace rcptwatch::alert {
namespace {

tl::unexpected<std::string> fail(std::string_view uri, std::string_view why) {
  return tl::unexpected("invalid output '" + std::string(uri) + "': " + std::string(why));
}

bool valid_host_name(std::string_view h) {
  // RFC 1123 labels; we only reject what getaddrinfo could never resolve, to fail early.
  if (h.empty() || h.size() > 253) return false;
  std::size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0 || h.size() > 1;
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

tl::expected<HostPort, std::string> parse_host_port(std::string_view uri, std::string_view hp) {
  HostPort out;
  std::string_view port_text;
  if (hp.empty()) return fail(uri, "missing host:port");
  if (hp.front() == '[') {
    const auto close = hp.find(']');
    if (close == std::string_view::npos) return fail(uri, "missing ']' after IPv6 address");
    out.host = std::string(hp.substr(1, close - 1));
    in6_addr a6{};
    if (out.host.empty() || inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
      return fail(uri, "'" + out.host + "' is not an IPv6 address");
    }
    const auto rest = hp.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail(uri, "missing ':PORT' after ']'");
    port_text = rest.substr(1);
  } else {
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return fail(uri, "missing ':PORT'");
    out.host = std::string(hp.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return fail(uri, "IPv6 addresses must be written in brackets, e.g. [::1]:514");
    }
    if (out.host.empty()) return fail(uri, "missing host");
    if (!valid_host_name(out.host)) return fail(uri, "'" + out.host + "' is not a valid host name");
    port_text = hp.substr(colon + 1);
  }
  if (port_text.empty()) return fail(uri, "missing port");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
    return fail(uri, "port '" + std::string(port_text) + "' is not a number from 1 to 65535");
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace

std::string_view to_string(OutputKind k) {
  switch (k) {
    case OutputKind::Stdout: return "stdout";
    case OutputKind::File: return "file";
    case OutputKind::SyslogUdp: return "syslog+udp";
    case OutputKind::SyslogTcp: return "syslog+tcp";
    case OutputKind::SyslogUnix: return "syslog+unix";
    case OutputKind::Kafka: return "kafka";
  }
  return "stdout";
}

tl::expected<OutputSpec, std::string> parse_output_spec(std::string_view uri, Format default_format) {
  OutputSpec spec;
  spec.uri = std::string(uri);
  spec.format = default_format;
  std::string_view body = uri;
  // "?format=" is the only query we accept; a '?' elsewhere belongs to the path.
  if (const auto q = body.rfind("?format="); q != std::string_view::npos) {
    const auto name = body.substr(q + 8);
    auto f = parse_format(name);
    if (!f) return fail(uri, f.error());
    spec.format = *f;
    body = body.substr(0, q);
  } else if (const auto q2 = body.find('?'); q2 != std::string_view::npos &&
                                             !body.starts_with("file:")) {
    return fail(uri, "unknown option '" + std::string(body.substr(q2 + 1)) + "' (only ?format=NAME)");
  }

  constexpr std::string_view kUdp = "syslog+udp://";
  constexpr std::string_view kTcp = "syslog+tcp://";
  constexpr std::string_view kUnix = "syslog+unix://";
  constexpr std::string_view kKafka = "kafka://";
  if (body == "stdout" || body == "-") {
    spec.kind = OutputKind::Stdout;
  } else if (body.starts_with("file:")) {
    spec.kind = OutputKind::File;
    spec.path = std::string(body.substr(5));
    // Accept file:///abs/path as well as file:PATH.
    if (spec.path.starts_with("//")) spec.path.erase(0, 2);
    if (spec.path.empty()) return fail(uri, "missing file path");
  } else if (body.starts_with(kUdp) || body.starts_with(kTcp)) {
    spec.kind = body.starts_with(kUdp) ? OutputKind::SyslogUdp : OutputKind::SyslogTcp;
    auto hp = body.substr(kUdp.size());
    if (!hp.empty() && hp.back() == '/') hp.remove_suffix(1);
    auto parsed = parse_host_port(uri, hp);
    if (!parsed) return tl::unexpected(parsed.error());
    spec.host = std::move(parsed->host);
    spec.port = parsed->port;
  } else if (body.starts_with(kUnix)) {
    spec.kind = OutputKind::SyslogUnix;
    spec.path = std::string(body.substr(kUnix.size()));
    if (spec.path.empty() || spec.path.front() != '/') {
      return fail(uri, "unix socket path must be absolute, e.g. syslog+unix:///dev/log");
    }
    if (spec.path.size() >= 108) return fail(uri, "unix socket path is longer than 107 bytes");
  } else if (body.starts_with(kKafka)) {
    spec.kind = OutputKind::Kafka;
    const auto rest = body.substr(kKafka.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return fail(uri, "missing '/TOPIC' after the brokers");
    const auto brokers = rest.substr(0, slash);
    spec.path = std::string(rest.substr(slash + 1));
    if (spec.path.empty() || spec.path.size() > 249 || spec.path == "." || spec.path == "..") {
      return fail(uri, "topic must be 1-249 characters");
    }
    for (char c : spec.path) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) return fail(uri, "topic may only contain letters, digits, '.', '_' and '-'");
    }
    std::size_t start = 0;
    for (;;) {
      const auto comma = brokers.find(',', start);
      const auto one = brokers.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                             : comma - start);
      auto parsed = parse_host_port(uri, one);
      if (!parsed) return tl::unexpected(parsed.error());
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    spec.host = std::string(brokers);
  } else {
    return fail(uri, "expected stdout, file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, "
                     "syslog+unix:///PATH or kafka://HOST:PORT/TOPIC");
  }
  return spec;
}

}  // namespace rcptwatch::alert
