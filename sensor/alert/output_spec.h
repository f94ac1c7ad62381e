// Output specifications: the `--output URI` grammar (stdout, file:PATH, syslog+udp://,
// syslog+tcp://, syslog+unix://) parsed into a value the transports are built from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "alert/formats.h"

namespace rcptwatch::alert {

enum class OutputKind : std::uint8_t { Stdout, File, SyslogUdp, SyslogTcp, SyslogUnix, Kafka };

std::string_view to_string(OutputKind k);

struct OutputSpec {
  OutputKind kind = OutputKind::Stdout;
  std::string path;        // File and SyslogUnix; Kafka: the topic
  std::string host;        // SyslogUdp / SyslogTcp: host name or address, IPv6 without brackets;
                           // Kafka: the bootstrap list as given ("b1:9092,[::1]:9092")
  std::uint16_t port = 0;  // SyslogUdp / SyslogTcp
  Format format = Format::Json;
  std::string uri;         // as given, for messages and the stats event
};

// Accepted forms, each with an optional "?format=NAME" suffix that overrides default_format:
//   stdout
//   file:PATH                      (PATH non-empty; relative paths allowed)
//   syslog+udp://HOST:PORT         HOST = IPv4, [IPv6] or a host name; PORT 1-65535
//   syslog+tcp://HOST:PORT
//   syslog+unix:///dev/log         (absolute socket path)
//   kafka://HOST:PORT[,HOST:PORT...]/TOPIC   (TOPIC: letters, digits, '.', '_', '-'; max 249)
// Errors are one line naming the offending URI.
tl::expected<OutputSpec, std::string> parse_output_spec(std::string_view uri, Format default_format);

}  // namespace rcptwatch::alert
