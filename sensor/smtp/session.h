// SMTP session parser: consumes both reassembled directions of one connection and reports
// envelopes (who sent to whom, with the server's answer). It never logs or throws on bad
// traffic; it counts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/types.h"
#include "smtp/parse.h"

namespace rcptwatch::smtp {

struct SmtpLimits {
  std::uint32_t max_line_bytes = 4096;          // longer lines are truncated and counted
  std::uint32_t max_recipients_per_transaction = 10000;
  std::uint32_t max_pending_commands = 1024;    // pipelined commands awaiting a reply
  // Client bytes after STARTTLS handed to SmtpObserver::on_tls_client_data: enough for a
  // ClientHello (one 16 KiB record plus headers), no more.
  std::uint32_t max_tls_client_bytes = 16 * 1024 + 64;
};

struct SmtpCounters {
  std::uint64_t sessions = 0;
  std::uint64_t commands = 0;
  std::uint64_t unknown_commands = 0;
  std::uint64_t truncated_lines = 0;
  std::uint64_t replies = 0;
  std::uint64_t transactions = 0;
  std::uint64_t recipients = 0;
  std::uint64_t malformed_addresses = 0;
  std::uint64_t gaps = 0;
  std::uint64_t resyncs = 0;
  std::uint64_t tls_sessions = 0;
  std::uint64_t data_bytes_skipped = 0;
  std::uint64_t conflict_recipients = 0;  // recipients found only in a conflicting TCP copy
  // Added by the smtp stage.
  std::uint64_t malformed_commands = 0;     // e.g. BDAT without a usable size
  std::uint64_t malformed_replies = 0;      // server line not "ddd[ -]text"
  std::uint64_t unmatched_replies = 0;      // reply with no command waiting for it
  std::uint64_t auth_lines = 0;             // AUTH continuation lines (not commands)
  std::uint64_t pending_overflow = 0;       // max_pending_commands hit; oldest lost its reply
  std::uint64_t recipients_over_limit = 0;  // reported, but not kept for the TransactionEvent
  std::uint64_t rcpt_without_mail = 0;      // RCPT with no MAIL seen (implicit transaction)
  std::uint64_t resync_skipped_lines = 0;   // lines dropped while resynchronising after a gap
  std::uint64_t data_rejected_after_body = 0;  // DATA refused after body bytes were consumed
  std::uint64_t one_sided_sessions = 0;     // server direction declared absent
  std::uint64_t server_bytes_ignored = 0;   // server bytes after it was declared absent
  std::uint64_t bdat_chunks = 0;
};

// One recipient, reported once its fate is known (reply seen, or can no longer be seen).
// Views are valid only during the callback.
struct RecipientEvent {
  Timestamp ts;                   // time of the packet that carried the RCPT command
  std::string_view helo;          // argument of the last HELO/EHLO/LHLO ("" if none seen)
  std::string_view mail_from;     // reverse-path without <> ("" for the null sender)
  std::string_view rcpt_to;       // forward-path without <>, as on the wire
  std::string_view domain;        // part after the last unquoted '@' ("" if none)
  std::optional<int> reply;       // server reply code, or nullopt if it was not seen
  std::uint32_t transaction = 0;  // 1-based transaction number within the connection
};

// A completed transaction (DATA/BDAT finished, RSET, QUIT or close), for --log-envelopes.
// Emitted once the transaction has ended and every one of its recipients has its reply (or
// can no longer get one). ts is the time of the MAIL command; tls is true when the
// transaction was cut short by an accepted STARTTLS.
struct TransactionEvent {
  Timestamp ts;
  std::string_view helo;
  std::string_view mail_from;
  std::uint32_t transaction = 0;
  struct Recipient {
    std::string_view address;
    std::string_view domain;
    std::optional<int> reply;
  };
  std::span<const Recipient> recipients;
  bool tls = false;
};

class SmtpObserver {
 public:
  virtual ~SmtpObserver() = default;
  virtual void on_recipient(const RecipientEvent& event) = 0;
  virtual void on_transaction(const TransactionEvent& /*event*/) {}
  // STARTTLS was accepted: the rest of the connection is ciphertext.
  virtual void on_tls(Timestamp /*ts*/) {}
  // First word of the server's 220 greeting (its name for itself, usually a host name).
  virtual void on_server_greeting(std::string_view /*host*/, Timestamp /*ts*/) {}
  // First word of the first line of a 2xx reply to EHLO/LHLO ("250-mx.example.net ...").
  virtual void on_ehlo_host(std::string_view /*host*/, Timestamp /*ts*/) {}
  // Client bytes after STARTTLS was accepted (the TLS ClientHello comes first), in order,
  // at most SmtpLimits::max_tls_client_bytes in all; the rest is not passed on.
  virtual void on_tls_client_data(Bytes /*data*/, Timestamp /*ts*/) {}
};

// Protocol rules the session follows (why: passive capture sees what the peers did, not what
// they should have done):
// - Replies are matched FIFO to the commands that expect one; the first reply answers the
//   connection opening (220/421/554 greeting). 334 continues AUTH and 354 answers DATA
//   without closing the exchange; a 334/354 that cannot belong to the oldest command, or a
//   reply with nothing waiting, is counted as unmatched and ignored.
// - DATA: body mode starts right after the DATA line (a client may not send anything else
//   before 354, so the next bytes are the body). If the server then refuses DATA before any
//   body byte arrived, command mode resumes. The body ends at a line that is exactly "."
//   (CRLF or bare LF); dot-stuffed lines are body.
// - BDAT n: exactly n bytes are skipped, across calls and gaps.
// - STARTTLS: a 2xx reply, or (reply unseen) a client/server line starting with a byte that
//   cannot begin SMTP text such as 0x16, switches both directions to ciphertext for good.
// - One-sided captures: if not one server byte (nor a server gap) has been seen when the
//   client ends a DATA body, completes a BDAT chunk, sends QUIT, or fills
//   max_pending_commands, the server direction is declared absent: every waiting recipient
//   is reported with reply nullopt, later recipients are reported at once with nullopt, and
//   server bytes that arrive afterwards are ignored (counted).
// - Client gap: the partial line is dropped and lines are skipped until one parses as a
//   plausible command (resync). Inside a DATA body the body continues until "." or, more
//   conservatively than in command mode, MAIL with a valid path, RSET, QUIT or HELO/EHLO/LHLO;
//   a server final reply arriving with nothing waiting also ends it.
// - Server gap: every waiting command loses its reply (nullopt) and matching restarts.
// - Observers must not call back into the session. Nothing is reported from the destructor:
//   call on_close.
class SmtpSession {
  struct Impl;

 public:
  // A closed session, for the next connection's: its state is started afresh in the same
  // memory, and its command and transaction queues keep the capacity they grew to. A pipeline
  // keeps a few, so that a session costs no allocation rather than one for its state and one
  // per queue, string and recipient list.
  class Spare {
   public:
    Spare();
    ~Spare();
    Spare(Spare&&) noexcept;
    Spare& operator=(Spare&&) noexcept;
    explicit operator bool() const { return impl_ != nullptr; }

   private:
    friend class SmtpSession;
    std::unique_ptr<Impl> impl_;
  };
  // A session whose queues hold more than this is not worth keeping (a flood of pipelined
  // commands or recipients): release() then gives an empty Spare.
  static constexpr std::size_t kMaxSpareBytes = 16 * 1024;

  SmtpSession(SmtpLimits limits, SmtpObserver& observer, SmtpCounters& counters);
  // The same, in the memory of a closed session (an empty Spare: as without one).
  SmtpSession(SmtpLimits limits, SmtpObserver& observer, SmtpCounters& counters, Spare spare);
  ~SmtpSession();
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;

  void on_client_data(Bytes data, Timestamp ts);
  void on_server_data(Bytes data, Timestamp ts);
  void on_client_gap(std::uint64_t length, Timestamp ts);
  void on_server_gap(std::uint64_t length, Timestamp ts);
  // Another copy of client bytes already seen, with different content (TCP overlap
  // conflict): its RCPT lines are reported too, with reply unknown; parser state is unchanged.
  void on_client_conflict(Bytes alternative, Timestamp ts);
  // The connection ended: report every recipient still waiting for a reply (reply unknown).
  void on_close(Timestamp ts);
  // After on_close: the session's memory, for another session. Nothing may be called on this
  // one afterwards but its destructor.
  Spare release() &&;

  // What the server advertised in its last successful EHLO/LHLO reply.
  const ServerCapabilities& capabilities() const;
  // STARTTLS was accepted: nothing more is parsed.
  bool tls() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rcptwatch::smtp
