// SMTP session state machine: frames both directions, correlates replies with pipelined
// commands, skips DATA/BDAT content, follows STARTTLS and gaps, and reports recipients and
// transactions. The protocol rules it follows are listed in session.h.
#include "smtp/session.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "smtp/line_framer.h"
#include "smtp/slot_queue.h"

namespace rcptwatch::smtp {
namespace {

constexpr std::uint32_t kNoIndex = 0xffffffffu;

enum class PendingKind : std::uint8_t {
  Greeting,
  Helo,
  Ehlo,
  Mail,
  Rcpt,
  Data,
  DataEnd,
  Bdat,
  Rset,
  Quit,
  Starttls,
  Auth,
  Other,
};

// A command waiting for its reply. Slots are reused so that `address` keeps its capacity.
struct Pending {
  PendingKind kind = PendingKind::Other;
  Timestamp ts;
  std::uint32_t transaction = 0;  // Rcpt: owning transaction
  std::uint32_t recipient_index = kNoIndex;  // Rcpt: slot in the transaction, if kept
  std::uint64_t data_seq = 0;     // Data: which DATA command this is
  std::string address;            // Rcpt: forward-path, when not kept in the transaction
  std::size_t domain_offset = 0;
  std::size_t domain_length = 0;
};

// A recipient kept for the TransactionEvent: its forward-path lies in the transaction's
// `addresses`, so recipients cost no allocation of their own.
struct StoredRecipient {
  std::size_t offset = 0;  // in Transaction::addresses
  std::size_t length = 0;
  std::size_t domain_offset = 0;  // within the address
  std::size_t domain_length = 0;
  std::optional<int> reply;
};

// Slots are reused (SlotQueue): a new transaction assigns every field.
struct Transaction {
  std::uint32_t number = 0;
  Timestamp ts;
  std::string helo;
  std::string mail_from;
  std::string addresses;  // every kept recipient's forward-path, one after the other
  std::vector<StoredRecipient> recipients;
  std::uint32_t unresolved = 0;  // recipients still waiting for their reply
  bool closed = false;
  bool tls = false;

  std::string_view address(const StoredRecipient& r) const {
    return std::string_view(addresses).substr(r.offset, r.length);
  }
};

enum class ClientMode : std::uint8_t { Command, DataBody, BdatBody };

// Where the DATA body scan stands relative to the end marker "." LF at a line start.
enum class BodyState : std::uint8_t { LineStart, InLine, Dot, DotCr };

std::string_view as_chars(Bytes data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

bool is_2xx(int code) { return code >= 200 && code < 300; }

}  // namespace

struct SmtpSession::Impl {
  // `recycled`: a closed session whose queues this one takes over, emptied, with the capacity
  // they grew to (its slots are reset field by field when reused).
  Impl(SmtpLimits limits_in, SmtpObserver& observer_in, SmtpCounters& counters_in,
       Impl* recycled = nullptr)
      : limits(limits_in),
        observer(&observer_in),
        counters(&counters_in),
        client_framer(limits_in.max_line_bytes),
        server_framer(limits_in.max_line_bytes) {
    if (recycled != nullptr) {
      pending = std::move(recycled->pending);
      pending.clear();
      transactions = std::move(recycled->transactions);
      transactions.clear();
      helo = std::move(recycled->helo);
      helo.clear();
      event_recipients = std::move(recycled->event_recipients);
    }
    ++counters->sessions;
    push_pending(PendingKind::Greeting, Timestamp{});
  }

  // The next connection's session in this one's memory: every member back to its initial
  // value, the queues emptied but with their capacity.
  void restart(SmtpLimits limits_in, SmtpObserver& observer_in, SmtpCounters& counters_in) {
    *this = Impl(limits_in, observer_in, counters_in, this);
  }

  // What the reusable queues hold (capacities, roughly): a session that served a flood of
  // pipelined commands or recipients is not kept for the next connection.
  std::size_t reusable_bytes() const {
    std::size_t n = pending.capacity() * sizeof(Pending) +
                    transactions.capacity() * sizeof(Transaction) + helo.capacity() +
                    event_recipients.capacity() * sizeof(TransactionEvent::Recipient);
    pending.for_each_slot([&](const Pending& p) { n += p.address.capacity(); });
    transactions.for_each_slot([&](const Transaction& t) {
      n += t.helo.capacity() + t.mail_from.capacity() + t.addresses.capacity() +
           t.recipients.capacity() * sizeof(StoredRecipient);
    });
    return n;
  }

  SmtpLimits limits;
  // Pointers, not references: restart() assigns a whole new state.
  SmtpObserver* observer;
  SmtpCounters* counters;
  LineFramer client_framer;
  LineFramer server_framer;
  SlotQueue<Pending> pending;
  // back() is the open one unless closed. Usually one or two, the older ones closed and
  // waiting for their recipients' replies (an empty std::deque allocated ~600 bytes).
  SlotQueue<Transaction> transactions;
  std::uint32_t transaction_count = 0;
  std::string helo;
  ServerCapabilities caps;
  ServerCapabilities reply_caps;  // collected from the reply being assembled
  std::vector<TransactionEvent::Recipient> event_recipients;  // reused for each event

  // Server reply assembly.
  bool in_multiline = false;
  int multiline_code = 0;
  std::size_t multiline_lines = 0;
  std::uint64_t replies_to_skip = 0;  // replies owed to commands evicted by the cap

  // Client side.
  ClientMode mode = ClientMode::Command;
  BodyState body_state = BodyState::LineStart;
  std::uint64_t body_bytes = 0;
  std::uint64_t data_seq = 0;
  bool body_after_gap = false;
  std::uint64_t bdat_remaining = 0;
  bool client_resync = false;
  bool auth_active = false;
  bool starttls_pending = false;
  std::uint32_t tls_client_forwarded = 0;  // bytes given to on_tls_client_data so far

  bool tls = false;
  bool closed = false;
  bool server_seen = false;
  bool server_absent = false;

  // ---- transactions and recipients ----

  Transaction* find_transaction(std::uint32_t number) {
    for (std::size_t i = 0; i < transactions.size(); ++i) {
      if (transactions[i].number == number) return &transactions[i];
    }
    return nullptr;
  }

  bool transaction_open() const { return !transactions.empty() && !transactions.back().closed; }

  void emit_transaction(const Transaction& t) {
    event_recipients.clear();
    for (const auto& r : t.recipients) {
      const std::string_view address = t.address(r);
      event_recipients.push_back(TransactionEvent::Recipient{
          address, address.substr(r.domain_offset, r.domain_length), r.reply});
    }
    TransactionEvent event;
    event.ts = t.ts;
    event.helo = t.helo;
    event.mail_from = t.mail_from;
    event.transaction = t.number;
    event.recipients = event_recipients;
    event.tls = t.tls;
    observer->on_transaction(event);
  }

  void flush_transactions() {
    while (!transactions.empty() && transactions.front().closed &&
           transactions.front().unresolved == 0) {
      emit_transaction(transactions.front());
      transactions.pop_front();
    }
  }

  void close_transaction(bool by_tls) {
    if (transaction_open()) {
      transactions.back().closed = true;
      transactions.back().tls = by_tls;
    }
    flush_transactions();
  }

  void open_transaction(Timestamp ts, std::string_view mail_from) {
    close_transaction(false);
    Transaction& t = transactions.push_back();  // a reused slot: its buffers keep their capacity
    t.number = ++transaction_count;
    t.ts = ts;
    t.helo.assign(helo);
    t.mail_from.assign(mail_from);
    t.addresses.clear();
    t.recipients.clear();
    t.unresolved = 0;
    t.closed = false;
    t.tls = false;
    ++counters->transactions;
  }

  void emit_recipient(const Transaction& t, std::string_view address, std::string_view domain,
                      Timestamp ts, std::optional<int> reply) {
    RecipientEvent event;
    event.ts = ts;
    event.helo = t.helo;
    event.mail_from = t.mail_from;
    event.rcpt_to = address;
    event.domain = domain;
    event.reply = reply;
    event.transaction = t.number;
    observer->on_recipient(event);
  }

  // The reassembler saw two different copies of the same client bytes. Recipients in the
  // copy the parser did not follow are reported too (reply unknown: which copy the server
  // kept cannot be told), in the context of the transaction open now; state is unchanged.
  void parse_conflicting_copy(Bytes data, Timestamp at) {
    if (tls) return;
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t eol = text.find('\n', pos);
      std::string_view line = text.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const Command cmd = parse_command(line);
      if (cmd.verb == Verb::Rcpt && line.size() <= limits.max_line_bytes) {
        const PathArgument path = parse_rcpt_to(cmd.argument);
        if (path.ok() && !path.null_path) {
          ++counters->conflict_recipients;
          if (transaction_open()) {
            emit_recipient(transactions.back(), path.address, path.domain, at, std::nullopt);
          } else {
            Transaction none;
            none.helo = helo;
            emit_recipient(none, path.address, path.domain, at, std::nullopt);
          }
        }
      }
      if (eol == std::string_view::npos) break;
      pos = eol + 1;
    }
  }

  void resolve_recipient(const Pending& p, std::optional<int> reply) {
    Transaction* t = find_transaction(p.transaction);
    if (t == nullptr) return;  // cannot happen: a transaction outlives its pending recipients
    const std::string_view address = p.recipient_index != kNoIndex
                                         ? t->address(t->recipients[p.recipient_index])
                                         : std::string_view(p.address);
    emit_recipient(*t, address, address.substr(p.domain_offset, p.domain_length), p.ts, reply);
    if (p.recipient_index != kNoIndex) t->recipients[p.recipient_index].reply = reply;
    --t->unresolved;
    flush_transactions();
  }

  // ---- reply correlation ----

  void resolve_front(std::optional<int> reply) {
    Pending& p = pending.front();
    if (p.kind == PendingKind::Rcpt) resolve_recipient(p, reply);
    pending.pop_front();
  }

  void resolve_all_pending() {
    while (!pending.empty()) resolve_front(std::nullopt);
    auth_active = false;
  }

  void declare_server_absent() {
    if (server_absent) return;
    server_absent = true;
    ++counters->one_sided_sessions;
    resolve_all_pending();
    replies_to_skip = 0;
  }

  // Queues a command expecting a reply; nullptr when the server is (now) known to be absent.
  Pending* push_pending(PendingKind kind, Timestamp ts) {
    if (server_absent) return nullptr;
    const std::size_t cap = std::max<std::uint32_t>(1, limits.max_pending_commands);
    if (pending.size() >= cap) {
      if (!server_seen) {
        declare_server_absent();
        return nullptr;
      }
      ++counters->pending_overflow;
      resolve_front(std::nullopt);
      ++replies_to_skip;
    }
    Pending& p = pending.push_back();
    p.kind = kind;
    p.ts = ts;
    p.transaction = 0;
    p.recipient_index = kNoIndex;
    p.data_seq = 0;
    p.address.clear();
    p.domain_offset = 0;
    p.domain_length = 0;
    return &p;
  }

  // Hands the first client bytes of the TLS stream on (for the SNI), up to the limit.
  void forward_tls_client(Bytes data, Timestamp ts) {
    if (closed || data.empty() || tls_client_forwarded >= limits.max_tls_client_bytes) return;
    const std::size_t take =
        std::min<std::size_t>(data.size(), limits.max_tls_client_bytes - tls_client_forwarded);
    tls_client_forwarded += static_cast<std::uint32_t>(take);
    observer->on_tls_client_data(data.first(take), ts);
  }

  // First word of a reply's text: the host name in a greeting or an EHLO reply. A plain loop:
  // find_first_of(" \t") calls memchr once per character.
  static std::string_view first_word(std::string_view text) {
    std::size_t end = 0;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    return text.substr(0, end);
  }

  void report_server_name(const ReplyLine& reply, Timestamp ts) {
    if (pending.empty()) return;
    const PendingKind kind = pending.front().kind;
    const bool greeting = kind == PendingKind::Greeting && reply.code == 220;
    const bool ehlo = kind == PendingKind::Ehlo && is_2xx(reply.code);
    if (!greeting && !ehlo) return;  // most replies name no host: do not look for one
    const std::string_view host = first_word(reply.text);
    if (host.empty()) return;
    if (greeting) {
      observer->on_server_greeting(host, ts);
    } else {
      observer->on_ehlo_host(host, ts);
    }
  }

  void enter_tls(Timestamp ts) {
    tls = true;
    ++counters->tls_sessions;
    resolve_all_pending();
    close_transaction(true);
    observer->on_tls(ts);
  }

  void end_body_after_gap_by_reply() {
    mode = ClientMode::Command;
    body_after_gap = false;
    close_transaction(false);
    client_framer.discard_partial();
    client_resync = true;
  }

  void finalize_reply(int code, Timestamp ts) {
    ++counters->replies;
    if (replies_to_skip > 0) {
      --replies_to_skip;
      return;
    }
    while (true) {
      if (pending.empty()) {
        if (mode == ClientMode::DataBody && body_after_gap && code != 354 && code != 334) {
          end_body_after_gap_by_reply();  // the answer to the end of a body we lost track of
        } else {
          ++counters->unmatched_replies;
        }
        return;
      }
      Pending& head = pending.front();
      if ((code == 354 && head.kind != PendingKind::Data) ||
          (code == 334 && head.kind != PendingKind::Auth)) {
        ++counters->unmatched_replies;
        return;
      }
      switch (head.kind) {
        case PendingKind::Greeting:
          pending.pop_front();
          if (code == 220 || code == 421 || code == 554) return;
          continue;  // greeting not captured: this reply belongs to the next command
        case PendingKind::Auth:
          if (code == 334) {
            auth_active = true;
            return;
          }
          auth_active = false;
          pending.pop_front();
          return;
        case PendingKind::Data: {
          const std::uint64_t seq = head.data_seq;
          pending.pop_front();
          if (code != 354 && mode == ClientMode::DataBody && seq == data_seq) {
            if (body_bytes == 0 && !body_after_gap) mode = ClientMode::Command;
            else ++counters->data_rejected_after_body;
          }
          return;
        }
        case PendingKind::Starttls:
          pending.pop_front();
          if (is_2xx(code)) enter_tls(ts);
          else starttls_pending = false;
          return;
        case PendingKind::Ehlo:
          pending.pop_front();
          if (is_2xx(code)) caps = reply_caps;
          return;
        case PendingKind::Rcpt:
          resolve_front(code);
          return;
        default:
          pending.pop_front();
          return;
      }
    }
  }

  void handle_server_line(std::string_view text, bool truncated, Timestamp ts) {
    if (truncated) ++counters->truncated_lines;
    const ReplyLine reply = parse_reply_line(text);
    if (!reply.ok()) {
      ++counters->malformed_replies;
      return;
    }
    if (in_multiline && reply.code != multiline_code) {
      ++counters->malformed_replies;  // a continuation changed its code: start over
      in_multiline = false;
    }
    if (!in_multiline) {
      reply_caps = ServerCapabilities{};
      multiline_lines = 0;
      multiline_code = reply.code;
      report_server_name(reply, ts);
    }
    if (multiline_lines > 0) record_ehlo_keyword(reply.text, reply_caps);  // line 0 is a name
    ++multiline_lines;
    if (!reply.is_last) {
      in_multiline = true;
      return;
    }
    in_multiline = false;
    finalize_reply(reply.code, ts);
  }

  // ---- client commands ----

  void one_sided_checkpoint() {
    if (!server_seen) declare_server_absent();
  }

  void handle_rcpt(const Command& cmd, bool truncated, Timestamp ts) {
    const PathArgument path = parse_rcpt_to(cmd.argument);
    if (!path.ok() || path.null_path || truncated) {
      ++counters->malformed_addresses;
      push_pending(PendingKind::Other, ts);
      return;
    }
    if (!transaction_open()) {
      ++counters->rcpt_without_mail;
      open_transaction(ts, "");
    }
    ++counters->recipients;
    const std::size_t domain_offset =
        path.domain.empty() ? 0 : static_cast<std::size_t>(path.domain.data() - path.address.data());
    const std::uint32_t number = transactions.back().number;
    std::uint32_t index = kNoIndex;
    {
      Transaction& t = transactions.back();
      if (t.recipients.size() < limits.max_recipients_per_transaction) {
        t.recipients.push_back(StoredRecipient{t.addresses.size(), path.address.size(),
                                               domain_offset, path.domain.size(), {}});
        t.addresses.append(path.address);
        index = static_cast<std::uint32_t>(t.recipients.size() - 1);
      } else {
        ++counters->recipients_over_limit;
      }
    }
    Pending* p = push_pending(PendingKind::Rcpt, ts);
    Transaction* t = find_transaction(number);
    if (p == nullptr) {
      emit_recipient(*t, path.address, path.domain, ts, std::nullopt);
      return;
    }
    p->transaction = number;
    p->recipient_index = index;
    // A kept recipient is read from its transaction; only one over the limit needs a copy.
    if (index == kNoIndex) p->address.assign(path.address);
    p->domain_offset = domain_offset;
    p->domain_length = path.domain.size();
    ++t->unresolved;
  }

  void start_data(Timestamp ts) {
    ++data_seq;
    if (Pending* p = push_pending(PendingKind::Data, ts)) p->data_seq = data_seq;
    mode = ClientMode::DataBody;
    body_state = BodyState::LineStart;
    body_bytes = 0;
    body_after_gap = false;
  }

  void end_data(Timestamp ts) {
    mode = ClientMode::Command;
    body_after_gap = false;
    push_pending(PendingKind::DataEnd, ts);
    close_transaction(false);
    one_sided_checkpoint();
  }

  void end_bdat_chunk() {
    mode = ClientMode::Command;
    one_sided_checkpoint();
  }

  void handle_bdat(const Command& cmd, Timestamp ts) {
    const BdatCmd bdat = parse_bdat(cmd.argument);
    if (!bdat.ok()) {
      // The chunk length is unknown, so whatever follows may be content: resynchronise.
      ++counters->malformed_commands;
      push_pending(PendingKind::Other, ts);
      client_resync = true;
      return;
    }
    ++counters->bdat_chunks;
    push_pending(PendingKind::Bdat, ts);
    if (bdat.is_last) close_transaction(false);
    bdat_remaining = bdat.chunk_size;
    if (bdat_remaining > 0) mode = ClientMode::BdatBody;
    else end_bdat_chunk();
  }

  void handle_command(const Command& cmd, bool truncated, Timestamp ts) {
    ++counters->commands;
    switch (cmd.verb) {
      case Verb::Helo:
      case Verb::Ehlo:
      case Verb::Lhlo:
        helo.assign(cmd.argument);
        close_transaction(false);  // RFC 5321 4.1.4: HELO/EHLO reset the transaction
        push_pending(cmd.verb == Verb::Helo ? PendingKind::Helo : PendingKind::Ehlo, ts);
        return;
      case Verb::Mail: {
        const PathArgument path = parse_mail_from(cmd.argument);
        const bool good = path.ok() && !truncated;
        if (!good) ++counters->malformed_addresses;
        open_transaction(ts, good ? path.address : std::string_view{});
        push_pending(PendingKind::Mail, ts);
        return;
      }
      case Verb::Rcpt:
        handle_rcpt(cmd, truncated, ts);
        return;
      case Verb::Data:
        start_data(ts);
        return;
      case Verb::Bdat:
        handle_bdat(cmd, ts);
        return;
      case Verb::Rset:
        close_transaction(false);
        push_pending(PendingKind::Rset, ts);
        return;
      case Verb::Quit:
        close_transaction(false);
        push_pending(PendingKind::Quit, ts);
        one_sided_checkpoint();
        return;
      case Verb::Starttls:
        push_pending(PendingKind::Starttls, ts);
        starttls_pending = true;
        return;
      case Verb::Auth: {
        push_pending(PendingKind::Auth, ts);
        // "AUTH PLAIN <initial-response>" is complete in one line; every other form expects
        // continuation lines. A 334 reply turns continuation mode on in any case.
        const Command mech = parse_command(cmd.argument);
        const bool one_line =
            !mech.argument.empty() && equals_ignore_case(mech.verb_text, "PLAIN");
        auth_active = !one_line;
        return;
      }
      case Verb::Noop:
      case Verb::Vrfy:
      case Verb::Expn:
      case Verb::Help:
        push_pending(PendingKind::Other, ts);
        return;
      case Verb::Unknown:
        ++counters->unknown_commands;
        push_pending(PendingKind::Other, ts);  // servers answer unknown commands with 500
        return;
    }
  }

  // After a gap: would this line be accepted as the first real command?
  static bool plausible_command(const Command& cmd) {
    switch (cmd.verb) {
      case Verb::Mail: return parse_mail_from(cmd.argument).ok();
      case Verb::Rcpt: {
        const PathArgument p = parse_rcpt_to(cmd.argument);
        return p.ok() && !p.null_path;
      }
      case Verb::Bdat: return parse_bdat(cmd.argument).ok();
      case Verb::Data:
      case Verb::Rset:
      case Verb::Quit:
      case Verb::Noop:
      case Verb::Starttls: return cmd.argument.empty();
      case Verb::Helo:
      case Verb::Ehlo:
      case Verb::Lhlo:
      case Verb::Auth: return !cmd.argument.empty();
      case Verb::Vrfy:
      case Verb::Expn:
      case Verb::Help: return true;
      case Verb::Unknown: return false;
    }
    return false;
  }

  // Inside a DATA body after a gap only lines that start or end an envelope count.
  static bool plausible_in_body(const Command& cmd) {
    switch (cmd.verb) {
      case Verb::Mail: return parse_mail_from(cmd.argument).ok();
      case Verb::Rset:
      case Verb::Quit: return cmd.argument.empty();
      case Verb::Helo:
      case Verb::Ehlo:
      case Verb::Lhlo: return !cmd.argument.empty();
      default: return false;
    }
  }

  void handle_client_line(std::string_view text, bool truncated, Timestamp ts) {
    if (truncated) ++counters->truncated_lines;
    if (auth_active) {
      if (looks_like_auth_continuation(text)) {
        ++counters->auth_lines;
        return;
      }
      auth_active = false;
    }
    const Command cmd = parse_command(text);
    if (client_resync) {
      if (!plausible_command(cmd)) {
        ++counters->resync_skipped_lines;
        return;
      }
      client_resync = false;
      ++counters->resyncs;
    }
    handle_command(cmd, truncated, ts);
  }

  // The end marker can only start with a '.' right after a LF, so inside a line the scan
  // jumps from dot to dot with memchr: base64 has none, prose a few per line, and either
  // way a chunk costs a handful of memchr calls, whatever the chunking. body_state is what
  // the byte before `i` says: LineStart after a LF, InLine after anything else.
  std::size_t scan_body(std::string_view in, Timestamp ts) {
    std::size_t i = 0;
    while (i < in.size()) {
      switch (body_state) {
        case BodyState::InLine: {
          std::size_t p = i;
          while (true) {
            const void* dot = std::memchr(in.data() + p, '.', in.size() - p);
            if (dot == nullptr) {
              body_state = in.back() == '\n' ? BodyState::LineStart : BodyState::InLine;
              i = in.size();
              break;
            }
            p = static_cast<std::size_t>(static_cast<const char*>(dot) - in.data());
            if (p > i && in[p - 1] == '\n') {
              body_state = BodyState::Dot;
              i = p + 1;
              break;
            }
            ++p;
          }
          break;
        }
        case BodyState::LineStart: {
          const char c = in[i++];
          body_state = c == '.' ? BodyState::Dot
                       : c == '\n' ? BodyState::LineStart
                                   : BodyState::InLine;
          break;
        }
        case BodyState::Dot:
        case BodyState::DotCr: {
          const char c = in[i++];
          if (c == '\n') {
            body_bytes += i;
            counters->data_bytes_skipped += i;
            end_data(ts);
            return i;
          }
          body_state = (c == '\r' && body_state == BodyState::Dot) ? BodyState::DotCr
                                                                   : BodyState::InLine;
          break;
        }
      }
    }
    body_bytes += i;
    counters->data_bytes_skipped += i;
    return i;
  }

  std::size_t scan_body_after_gap(std::string_view in, Timestamp ts) {
    const LineFramer::Step step = client_framer.next(in);
    body_bytes += step.consumed;
    counters->data_bytes_skipped += step.consumed;
    if (!step.line) return step.consumed;
    const std::string_view text = step.line->text;
    if (text == ".") {
      end_data(ts);
      return step.consumed;
    }
    const Command cmd = parse_command(text);
    if (plausible_in_body(cmd)) {
      ++counters->resyncs;
      end_data(ts);  // the body did end before this command, and the server answered it
      handle_command(cmd, step.line->truncated, ts);
    }
    return step.consumed;
  }

  void on_client_data(Bytes data, Timestamp ts) {
    const std::string_view in = as_chars(data);
    std::size_t pos = 0;
    while (pos < in.size() && !tls && !closed) {
      switch (mode) {
        case ClientMode::DataBody:
          pos += body_after_gap ? scan_body_after_gap(in.substr(pos), ts)
                                : scan_body(in.substr(pos), ts);
          break;
        case ClientMode::BdatBody: {
          const std::uint64_t take = std::min<std::uint64_t>(bdat_remaining, in.size() - pos);
          pos += static_cast<std::size_t>(take);
          bdat_remaining -= take;
          counters->data_bytes_skipped += take;
          if (bdat_remaining == 0) end_bdat_chunk();
          break;
        }
        case ClientMode::Command: {
          if (starttls_pending && client_framer.at_line_start() &&
              looks_like_tls_start(static_cast<std::uint8_t>(in[pos]))) {
            enter_tls(ts);
            forward_tls_client(data.subspan(pos), ts);
            return;
          }
          const LineFramer::Step step = client_framer.next(in.substr(pos));
          pos += step.consumed;
          if (step.line) handle_client_line(step.line->text, step.line->truncated, ts);
          break;
        }
      }
    }
  }

  void on_server_data(Bytes data, Timestamp ts) {
    if (server_absent) {
      counters->server_bytes_ignored += data.size();
      return;
    }
    if (!data.empty()) server_seen = true;
    const std::string_view in = as_chars(data);
    std::size_t pos = 0;
    while (pos < in.size() && !tls && !closed) {
      if (starttls_pending && server_framer.at_line_start() &&
          looks_like_tls_start(static_cast<std::uint8_t>(in[pos]))) {
        enter_tls(ts);  // a TLS record where the reply to STARTTLS should be: it was accepted
        return;
      }
      const LineFramer::Step step = server_framer.next(in.substr(pos));
      pos += step.consumed;
      if (step.line) handle_server_line(step.line->text, step.line->truncated, ts);
    }
  }

  void on_client_gap(std::uint64_t length) {
    switch (mode) {
      case ClientMode::Command:
        client_framer.discard_partial();
        client_resync = true;
        break;
      case ClientMode::DataBody:
        client_framer.discard_partial();
        body_after_gap = true;
        body_state = BodyState::InLine;
        break;
      case ClientMode::BdatBody:
        if (length < bdat_remaining) {
          bdat_remaining -= length;  // the gap lies inside the chunk: exact count survives
        } else {
          const std::uint64_t excess = length - bdat_remaining;
          bdat_remaining = 0;
          end_bdat_chunk();
          if (excess > 0) {
            client_framer.discard_partial();
            client_resync = true;
          }
        }
        break;
    }
  }

  void on_server_gap() {
    server_seen = true;
    if (server_absent) return;
    server_framer.discard_partial();
    in_multiline = false;
    resolve_all_pending();
    replies_to_skip = 0;
  }

  void on_close() {
    resolve_all_pending();
    close_transaction(false);
    closed = true;
  }
};

SmtpSession::SmtpSession(SmtpLimits limits, SmtpObserver& observer, SmtpCounters& counters)
    : impl_(std::make_unique<Impl>(limits, observer, counters)) {}

SmtpSession::SmtpSession(SmtpLimits limits, SmtpObserver& observer, SmtpCounters& counters,
                         Spare spare) {
  if (!spare.impl_) {
    impl_ = std::make_unique<Impl>(limits, observer, counters);
    return;
  }
  impl_ = std::move(spare.impl_);
  impl_->restart(limits, observer, counters);
}

SmtpSession::~SmtpSession() = default;

SmtpSession::Spare SmtpSession::release() && {
  Spare spare;
  if (impl_->reusable_bytes() <= kMaxSpareBytes) spare.impl_ = std::move(impl_);
  impl_.reset();
  return spare;
}

SmtpSession::Spare::Spare() = default;
SmtpSession::Spare::~Spare() = default;
SmtpSession::Spare::Spare(Spare&&) noexcept = default;
SmtpSession::Spare& SmtpSession::Spare::operator=(Spare&&) noexcept = default;

void SmtpSession::on_client_data(Bytes data, Timestamp ts) {
  if (impl_->closed) return;
  if (impl_->tls) {
    impl_->forward_tls_client(data, ts);
    return;
  }
  impl_->on_client_data(data, ts);
}

void SmtpSession::on_server_data(Bytes data, Timestamp ts) {
  if (impl_->closed || impl_->tls) return;
  impl_->on_server_data(data, ts);
}

void SmtpSession::on_client_gap(std::uint64_t length, Timestamp /*ts*/) {
  ++impl_->counters->gaps;
  if (impl_->closed || impl_->tls) return;
  impl_->on_client_gap(length);
}

void SmtpSession::on_server_gap(std::uint64_t /*length*/, Timestamp /*ts*/) {
  ++impl_->counters->gaps;
  if (impl_->closed || impl_->tls) return;
  impl_->on_server_gap();
}

void SmtpSession::on_client_conflict(Bytes alternative, Timestamp ts) {
  impl_->parse_conflicting_copy(alternative, ts);
}

void SmtpSession::on_close(Timestamp /*ts*/) {
  if (impl_->closed) return;
  if (impl_->tls) {
    impl_->closed = true;
    return;
  }
  impl_->on_close();
}

const ServerCapabilities& SmtpSession::capabilities() const { return impl_->caps; }

bool SmtpSession::tls() const { return impl_->tls; }

}  // namespace rcptwatch::smtp
