// Server name indication from a TLS ClientHello: the one name an encrypted SMTP session still
// shows. Fed the first client bytes of the TLS stream (after STARTTLS, or from the start on
// implicit-TLS ports); copies at most kMaxBytes, and only when the hello spans several calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace rcptwatch::tls {

enum class SniStatus : std::uint8_t {
  NeedMore,   // the ClientHello is not complete yet
  Found,      // `server_name` holds the host_name entry
  NoSni,      // a complete ClientHello without a server_name extension
  NotTls,     // the bytes are not a TLS handshake record
  Malformed,  // a length or field is inconsistent, or the hello is larger than kMaxBytes
};
std::string_view to_string(SniStatus s);

struct SniResult {
  SniStatus status = SniStatus::NeedMore;
  std::string_view server_name;  // as sent (SniExtractor lower-cases it); Found only
};

// Parses `stream` (bytes from the first TLS record on). NeedMore when a complete ClientHello
// is not inside `stream` yet. The name points into `stream`, or into `scratch` when the
// hello is split over several records (then joined there).
SniResult parse_client_hello(Bytes stream, std::vector<std::uint8_t>& scratch);

// Accumulates a TLS client stream across calls until the ClientHello can be judged; after a
// final status (anything but NeedMore) further bytes are ignored.
class SniExtractor {
 public:
  static constexpr std::size_t kMaxBytes = 16 * 1024 + 64;

  SniResult feed(Bytes data);
  bool done() const { return done_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> scratch_;
  std::string name_;
  bool done_ = false;
};

}  // namespace rcptwatch::tls
