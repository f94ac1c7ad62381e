// libFuzzer entry point for the SMTP session: the input is a script of client bytes, server
// bytes and gaps in both directions, replayed into one session with small limits so that the
// caps (line length, pending commands, recipients) are reached. Built by fuzz/CMakeLists.txt
// (RCPTWATCH_FUZZ=ON); `make fuzz` runs it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/session.h"

namespace {

using rcptwatch::Bytes;
using rcptwatch::Timestamp;
using namespace rcptwatch::smtp;

// Checks what every consumer relies on: the domain is part of the address it came from.
class CheckingObserver : public SmtpObserver {
 public:
  void on_recipient(const RecipientEvent& e) override {
    if (e.rcpt_to.empty()) __builtin_trap();
    if (!e.domain.empty() &&
        (e.domain.data() < e.rcpt_to.data() ||
         e.domain.data() + e.domain.size() > e.rcpt_to.data() + e.rcpt_to.size())) {
      __builtin_trap();
    }
    if (e.transaction == 0) __builtin_trap();
  }
  void on_transaction(const TransactionEvent& e) override {
    if (e.transaction == 0) __builtin_trap();
  }
  void on_tls(Timestamp) override {
    if (++tls_calls > 1) __builtin_trap();
  }
  int tls_calls = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  SmtpLimits limits;
  limits.max_line_bytes = 8u + data[0];
  limits.max_pending_commands = 1u + (data[1] & 0x1f);
  limits.max_recipients_per_transaction = 1u + (data[1] >> 5);
  CheckingObserver observer;
  SmtpCounters counters;
  SmtpSession session(limits, observer, counters);

  std::size_t pos = 2;
  std::int64_t usec = 0;
  while (pos < size) {
    // Header byte: two bits of kind, six bits of length (data) or gap size exponent.
    const std::uint8_t header = data[pos++];
    const unsigned kind = header >> 6;
    const std::size_t length = (header & 0x3fu) + 1u;
    const Timestamp ts{++usec};
    if (kind >= 2) {
      const std::uint64_t gap = std::uint64_t{1} << (header & 0x3fu);
      if (kind == 2) session.on_client_gap(gap, ts);
      else session.on_server_gap(gap, ts);
      continue;
    }
    const std::size_t take = length < size - pos ? length : size - pos;
    const Bytes chunk(data + pos, take);
    pos += take;
    if (kind == 0) session.on_client_data(chunk, ts);
    else session.on_server_data(chunk, ts);
  }
  session.on_close(Timestamp{++usec});
  return 0;
}
