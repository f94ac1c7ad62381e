// Formatting helpers for the shared value types.
#include "common/types.h"

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>

namespace rcptwatch {

std::string format_rfc3339(Timestamp ts) {
  std::int64_t secs = ts.usec / 1'000'000;
  std::int64_t micros = ts.usec % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];  // generous: -Wformat-truncation reasons about the widest int values
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros));
  return buf;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = family == Family::V4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

}  // namespace rcptwatch
