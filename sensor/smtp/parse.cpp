// Pure SMTP grammar helpers; see parse.h. Written as explicit index scans because the address
// grammar needs quote/literal awareness that regular expressions would hide.
#include "smtp/parse.h"

#include <array>
#include <limits>

namespace rcptwatch::smtp {
namespace {

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

constexpr char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// Up to 8 bytes upper-cased into one word, first byte lowest; 0 for longer text. Verbs and
// EHLO keywords are short ASCII words, so a lookup is one comparison per candidate instead of
// a case-folding loop over every name.
constexpr std::uint64_t packed_upper(std::string_view s) {
  if (s.size() > 8) return 0;
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    w |= std::uint64_t{static_cast<unsigned char>(to_upper(s[i]))} << (8 * i);
  }
  return w;
}

struct VerbEntry {
  std::string_view name;
  Verb verb;
  std::uint64_t packed = packed_upper(name);
};

constexpr std::array<VerbEntry, 15> kVerbs{{
    {"HELO", Verb::Helo},
    {"EHLO", Verb::Ehlo},
    {"LHLO", Verb::Lhlo},
    {"MAIL", Verb::Mail},
    {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data},
    {"BDAT", Verb::Bdat},
    {"RSET", Verb::Rset},
    {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit},
    {"STARTTLS", Verb::Starttls},
    {"AUTH", Verb::Auth},
    {"VRFY", Verb::Vrfy},
    {"EXPN", Verb::Expn},
    {"HELP", Verb::Help},
}};

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Bytes that end or change the plain scan of a mailbox (outside quotes and literals); the
// others are passed over with one table lookup each.
constexpr std::array<bool, 256> kMailboxSpecial = [] {
  std::array<bool, 256> t{};
  for (std::size_t c = 0; c < 0x20; ++c) t[c] = true;
  t[0x7f] = true;
  for (const char c : {' ', '\t', '>', '"', '[', '@', '<'}) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Result of scanning one mailbox (local-part@domain) starting at `begin`.
struct MailboxScan {
  std::size_t end = 0;                          // index one past the mailbox
  std::size_t last_at = std::string_view::npos;  // index of the last unquoted '@'
  PathError error = PathError::None;
};

// Stops at an unquoted blank, or at an unquoted '>' when the path is bracketed. Inside quotes
// every byte except an unescaped '"' is literal; inside [...] everything up to ']' is literal.
MailboxScan scan_mailbox(std::string_view s, std::size_t begin, bool bracketed) {
  MailboxScan r;
  bool in_quote = false;
  bool in_literal = false;
  std::size_t i = begin;
  while (i < s.size()) {
    if (!in_quote && !in_literal) {
      // Most of an address is a plain run: pass it in a tight loop, not byte by byte through
      // the quote and literal checks below.
      while (i < s.size() && !kMailboxSpecial[static_cast<unsigned char>(s[i])]) ++i;
      if (i == s.size()) break;
    }
    const char c = s[i];
    const auto uc = static_cast<unsigned char>(c);
    if (in_quote) {
      if (c == '\\' && i + 1 < s.size()) {
        i += 2;
        continue;
      }
      if (c == '"') in_quote = false;
      else if (uc < 0x20 && c != '\t') r.error = PathError::BadCharacter;
      ++i;
      continue;
    }
    if (in_literal) {
      if (c == ']') in_literal = false;
      else if (is_control(uc) || c == '>' || c == '<' || is_blank(c)) {
        r.error = PathError::UnterminatedLiteral;
        break;
      }
      ++i;
      continue;
    }
    if (is_blank(c)) break;  // a special byte (the run above stopped at it)
    if (c == '>') {
      if (!bracketed) r.error = PathError::BadCharacter;
      break;
    }
    if (c == '"') {
      in_quote = true;
    } else if (c == '[') {
      in_literal = true;
    } else if (c == '@') {
      r.last_at = i;
    } else if (c == '<' || is_control(uc)) {
      r.error = PathError::BadCharacter;
      break;
    }
    ++i;
  }
  r.end = i;
  if (r.error == PathError::None) {
    if (in_quote) r.error = PathError::UnterminatedQuote;
    else if (in_literal) r.error = PathError::UnterminatedLiteral;
  }
  return r;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) { return iequals(a, b); }

std::string_view verb_name(Verb verb) {
  for (const auto& e : kVerbs) {
    if (e.verb == verb) return e.name;
  }
  return "UNKNOWN";
}

Command parse_command(std::string_view line) {
  Command cmd;
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) ++i;
  const std::size_t verb_begin = i;
  while (i < line.size() && !is_blank(line[i])) ++i;
  cmd.verb_text = line.substr(verb_begin, i - verb_begin);
  cmd.argument = trim(line.substr(i));
  if (cmd.verb_text.empty()) return cmd;
  const std::uint64_t packed = packed_upper(cmd.verb_text);
  for (const auto& e : kVerbs) {
    if (packed == e.packed && cmd.verb_text.size() == e.name.size()) {
      cmd.verb = e.verb;
      break;
    }
  }
  return cmd;
}

std::string_view to_string(PathError error) {
  switch (error) {
    case PathError::None: return "none";
    case PathError::MissingKeyword: return "missing keyword";
    case PathError::MissingColon: return "missing colon";
    case PathError::EmptyPath: return "empty path";
    case PathError::UnterminatedPath: return "unterminated path";
    case PathError::UnterminatedQuote: return "unterminated quote";
    case PathError::UnterminatedLiteral: return "unterminated address literal";
    case PathError::BadSourceRoute: return "bad source route";
    case PathError::BadCharacter: return "bad character";
    case PathError::UnexpectedSpace: return "unexpected space";
    case PathError::BadDomain: return "bad domain";
  }
  return "unknown";
}

PathArgument parse_path_argument(std::string_view keyword, std::string_view argument) {
  PathArgument out;
  if (!keyword.empty() && keyword.back() == ':') keyword.remove_suffix(1);
  const std::string_view s = argument;
  if (s.size() < keyword.size() || !iequals(s.substr(0, keyword.size()), keyword)) {
    out.error = PathError::MissingKeyword;
    return out;
  }
  std::size_t i = keyword.size();
  while (i < s.size() && is_blank(s[i])) ++i;  // "TO :" is rare but harmless
  if (i >= s.size() || s[i] != ':') {
    out.error = PathError::MissingColon;
    return out;
  }
  ++i;
  while (i < s.size() && is_blank(s[i])) ++i;  // "RCPT TO: <a@b>"
  if (i >= s.size()) {
    out.error = PathError::EmptyPath;
    return out;
  }

  const bool bracketed = s[i] == '<';
  if (bracketed) {
    ++i;
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i < s.size() && s[i] == '>') {
      out.null_path = true;
      out.params = trim(s.substr(i + 1));
      return out;
    }
  }

  // Source route "@a,@b:" (RFC 5321 4.1.2, obsolete but still legal): skipped, not reported.
  if (i < s.size() && s[i] == '@') {
    std::size_t j = i;
    while (j < s.size() && s[j] != ':' && s[j] != '>' && !is_blank(s[j])) ++j;
    if (j >= s.size() || s[j] != ':') {
      out.error = PathError::BadSourceRoute;
      return out;
    }
    i = j + 1;
  }

  const MailboxScan scan = scan_mailbox(s, i, bracketed);
  if (scan.error != PathError::None) {
    out.error = scan.error;
    return out;
  }
  out.address = s.substr(i, scan.end - i);

  std::size_t rest = scan.end;
  if (bracketed) {
    while (rest < s.size() && is_blank(s[rest])) ++rest;
    if (rest >= s.size()) {
      out.error = PathError::UnterminatedPath;
      return out;
    }
    if (s[rest] != '>') {
      out.error = PathError::UnexpectedSpace;
      return out;
    }
    ++rest;
  }
  out.params = trim(s.substr(rest));

  if (out.address.empty()) {
    out.error = PathError::EmptyPath;
    return out;
  }
  if (scan.last_at != std::string_view::npos) {
    std::string_view domain = s.substr(scan.last_at + 1, scan.end - scan.last_at - 1);
    if (!domain.empty() && domain.back() == '.' && domain.front() != '[') {
      domain.remove_suffix(1);  // "user@army.ml." : the root label is not part of the name
    }
    if (domain.empty()) {
      out.error = PathError::BadDomain;
      return out;
    }
    out.domain = domain;
  }
  return out;
}

std::optional<std::string_view> find_esmtp_param(std::string_view params, std::string_view name) {
  std::size_t i = 0;
  while (i < params.size()) {
    while (i < params.size() && is_blank(params[i])) ++i;
    const std::size_t begin = i;
    while (i < params.size() && !is_blank(params[i])) ++i;
    const std::string_view token = params.substr(begin, i - begin);
    if (token.empty()) break;
    const std::size_t eq = token.find('=');
    const std::string_view key = token.substr(0, eq);
    if (iequals(key, name)) {
      return eq == std::string_view::npos ? std::string_view{} : token.substr(eq + 1);
    }
  }
  return std::nullopt;
}

BdatCmd parse_bdat(std::string_view argument) {
  BdatCmd out;
  const std::string_view s = trim(argument);
  if (s.empty()) {
    out.error = BdatError::MissingSize;
    return out;
  }
  std::size_t i = 0;
  std::uint64_t value = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    if (value > (kMax - digit) / 10) {
      out.error = BdatError::SizeOverflow;
      return out;
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0 || (i < s.size() && !is_blank(s[i]))) {
    out.error = BdatError::BadSize;
    return out;
  }
  out.chunk_size = value;
  const std::string_view rest = trim(s.substr(i));
  if (rest.empty()) return out;
  if (!iequals(rest, "LAST")) {
    out.error = BdatError::BadLastToken;
    return out;
  }
  out.is_last = true;
  return out;
}

ReplyLine parse_reply_line(std::string_view line) {
  ReplyLine out;
  if (line.size() < 3) {
    out.error = ReplyError::TooShort;
    return out;
  }
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line[0] < '1' || line[0] > '5' || !digit(line[1]) || !digit(line[2])) {
    out.error = ReplyError::BadCode;
    return out;
  }
  out.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) return out;
  if (line[3] == '-') out.is_last = false;
  else if (line[3] != ' ') {
    out.error = ReplyError::BadSeparator;
    return out;
  }
  out.text = line.substr(4);
  return out;
}

namespace {
// EHLO keywords of up to 8 bytes that only set a flag; SIZE also carries a value.
struct FlagKeyword {
  std::string_view name;
  bool ServerCapabilities::*flag;
  std::uint64_t packed = packed_upper(name);
};
constexpr std::array<FlagKeyword, 6> kFlagKeywords{{
    {"CHUNKING", &ServerCapabilities::chunking},
    {"STARTTLS", &ServerCapabilities::starttls},
    {"SMTPUTF8", &ServerCapabilities::smtputf8},
    {"8BITMIME", &ServerCapabilities::eightbitmime},
    {"DSN", &ServerCapabilities::dsn},
    {"AUTH", &ServerCapabilities::auth},
}};
constexpr std::uint64_t kSizeKeyword = packed_upper("SIZE");
// The two longer keywords, both of ten bytes: their first eight and last two, packed.
constexpr std::uint64_t kPipeliningHead = packed_upper("PIPELINI");
constexpr std::uint64_t kBinarymimeHead = packed_upper("BINARYMI");
constexpr std::uint64_t kPipeliningTail = packed_upper("NG");
constexpr std::uint64_t kBinarymimeTail = packed_upper("ME");
}  // namespace

void record_ehlo_keyword(std::string_view text, ServerCapabilities& caps) {
  text = trim(text);
  std::size_t end = 0;
  while (end < text.size() && !is_blank(text[end]) && text[end] != '=') ++end;
  const std::string_view keyword = text.substr(0, end);
  if (keyword.size() > 8) {
    if (keyword.size() != 10) return;
    const std::uint64_t head = packed_upper(keyword.substr(0, 8));
    const std::uint64_t tail = packed_upper(keyword.substr(8));
    if (head == kPipeliningHead && tail == kPipeliningTail) caps.pipelining = true;
    else if (head == kBinarymimeHead && tail == kBinarymimeTail) caps.binarymime = true;
    return;
  }
  const std::uint64_t packed = packed_upper(keyword);
  for (const FlagKeyword& k : kFlagKeywords) {
    if (packed == k.packed && keyword.size() == k.name.size()) {
      caps.*k.flag = true;
      return;
    }
  }
  if (packed == kSizeKeyword && keyword.size() == 4) {
    caps.size = true;
    const std::string_view value = trim(text.substr(end < text.size() ? end + 1 : end));
    std::uint64_t limit = 0;
    for (const char c : value) {
      if (c < '0' || c > '9' || limit > std::numeric_limits<std::uint64_t>::max() / 10 - 9) {
        limit = 0;
        break;
      }
      limit = limit * 10 + static_cast<std::uint64_t>(c - '0');
    }
    caps.size_limit = limit;
  }
}

bool looks_like_auth_continuation(std::string_view line) {
  if (line == "*") return true;
  for (const char c : line) {
    const bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!base64) return false;
  }
  return true;
}

bool looks_like_tls_start(std::uint8_t first_byte) {
  if (first_byte >= 0x80 || first_byte == 0x7f) return true;
  return first_byte < 0x20 && first_byte != '\r' && first_byte != '\n' && first_byte != '\t';
}

}  // namespace rcptwatch::smtp
