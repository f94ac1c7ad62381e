// Pure SMTP grammar helpers (RFC 5321, 6531, 3030, 1870, 2920): command verbs, MAIL/RCPT paths,
// BDAT arguments, reply lines, EHLO keywords. No state and no allocation: every result is a set
// of views into the caller's line, so these can be unit-tested and fuzzed on their own and the
// session state machine stays small.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rcptwatch::smtp {

enum class Verb : std::uint8_t {
  Helo,
  Ehlo,
  Lhlo,
  Mail,
  Rcpt,
  Data,
  Bdat,
  Rset,
  Noop,
  Quit,
  Starttls,
  Auth,
  Vrfy,
  Expn,
  Help,
  Unknown,
};

std::string_view verb_name(Verb verb);

// ASCII case-insensitive equality (SMTP keywords are ASCII; UTF-8 bytes compare exactly).
bool equals_ignore_case(std::string_view a, std::string_view b);

// One client command line (without CR LF), split at the first run of blanks.
struct Command {
  Verb verb = Verb::Unknown;
  std::string_view verb_text;  // as on the wire, any case
  std::string_view argument;   // after the verb and its blanks; trailing blanks removed
};

// Verbs are matched case-insensitively. Leading blanks are tolerated (some clients send them).
Command parse_command(std::string_view line);

enum class PathError : std::uint8_t {
  None,
  MissingKeyword,     // argument does not start with FROM / TO
  MissingColon,       // keyword not followed by ':'
  EmptyPath,          // nothing after the colon, or "<>" where a mailbox is needed
  UnterminatedPath,   // '<' without the closing '>'
  UnterminatedQuote,  // '"' without its closing '"'
  UnterminatedLiteral,  // '[' without ']'
  BadSourceRoute,     // "<@a,@b" without the ':' that ends the route
  BadCharacter,       // control character, or an unquoted '<' / stray '>'
  UnexpectedSpace,    // unquoted blank inside <...>
  BadDomain,          // "user@" with nothing (or only a dot) after the '@'
};

std::string_view to_string(PathError error);

// A reverse-path (MAIL FROM) or forward-path (RCPT TO) with its ESMTP parameters.
struct PathArgument {
  std::string_view address;  // mailbox as on the wire, without <> and source route; "" for <>
  std::string_view domain;   // after the last unquoted '@', trailing dot removed; "" if no '@'
  std::string_view params;   // ESMTP parameters after the path (e.g. "NOTIFY=NEVER ORCPT=..")
  bool null_path = false;    // the path was "<>"
  PathError error = PathError::None;

  bool ok() const { return error == PathError::None; }
};

// `keyword` is "FROM" or "TO" (a trailing ':' is accepted and ignored); `argument` is what
// follows the verb, e.g. "TO: <\"john doe\"@army.ml> NOTIFY=NEVER". Accepts what real clients
// send: optional angle brackets, blanks after the colon, source routes, quoted local parts (in
// which '@', '>' and blanks are literal), address literals, UTF-8. The domain is returned as on
// the wire (case preserved): normalisation belongs to detect/.
PathArgument parse_path_argument(std::string_view keyword, std::string_view argument);
inline PathArgument parse_mail_from(std::string_view argument) {
  return parse_path_argument("FROM", argument);
}
inline PathArgument parse_rcpt_to(std::string_view argument) {
  return parse_path_argument("TO", argument);
}

// Value of one ESMTP parameter (case-insensitive name) in a params string: "" for a bare
// keyword such as SMTPUTF8, nullopt when absent.
std::optional<std::string_view> find_esmtp_param(std::string_view params, std::string_view name);

enum class BdatError : std::uint8_t { None, MissingSize, BadSize, SizeOverflow, BadLastToken };

// RFC 3030 "BDAT <chunk-size> [LAST]".
struct BdatCmd {
  std::uint64_t chunk_size = 0;
  bool is_last = false;
  BdatError error = BdatError::None;

  bool ok() const { return error == BdatError::None; }
};

// Sizes up to 2^64-1 are accepted without overflow; larger ones are SizeOverflow.
BdatCmd parse_bdat(std::string_view argument);

enum class ReplyError : std::uint8_t { None, TooShort, BadCode, BadSeparator };

// One server reply line: "250-PIPELINING" (continuation), "250 OK" or "250" (last line).
struct ReplyLine {
  int code = 0;
  bool is_last = true;
  std::string_view text;
  ReplyError error = ReplyError::None;

  bool ok() const { return error == ReplyError::None; }
};

ReplyLine parse_reply_line(std::string_view line);

// What the server advertised in its last successful EHLO/LHLO reply.
struct ServerCapabilities {
  bool pipelining = false;
  bool chunking = false;
  bool starttls = false;
  bool smtputf8 = false;
  bool size = false;
  bool eightbitmime = false;
  bool binarymime = false;
  bool dsn = false;
  bool auth = false;
  std::uint64_t size_limit = 0;  // SIZE value; 0 when absent or unlimited
};

// Records the keyword of one EHLO reply line text (after "250-"/"250 ") into `caps`.
// Unknown keywords are ignored.
void record_ehlo_keyword(std::string_view text, ServerCapabilities& caps);

// A line the client sends after a 334 challenge: base64 (RFC 4648 alphabet), "" or "*"
// (cancel). Anything with a blank or ':' is not one, which is what lets a one-sided parser
// leave AUTH mode on the next real command.
bool looks_like_auth_continuation(std::string_view line);

// The first byte of a TLS record (0x16 handshake) or any byte that can never start an SMTP
// line (non-ASCII, control other than CR/LF/TAB): after STARTTLS it means ciphertext.
bool looks_like_tls_start(std::uint8_t first_byte);

}  // namespace rcptwatch::smtp
