// DNS wire format parsing. Every read is bounds-checked; names are decoded label by label with
// compression pointers that must point strictly backwards (which also makes loops impossible)
// and a hop cap that bounds the work per name.
#include "dns/message.h"

#include <algorithm>
#include <cstdio>

namespace rcptwatch::dns {
namespace {

constexpr std::size_t kHeaderBytes = 12;
constexpr std::size_t kMaxNameChars = 253;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string_view numbered(std::string_view prefix, unsigned value, std::array<char, 12>& buf) {
  const int n = std::snprintf(buf.data(), buf.size(), "%.*s%u", static_cast<int>(prefix.size()),
                              prefix.data(), value);
  return {buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0};
}

// Reads the name at `pos`; `next` receives the offset just after the name as it appears at
// `pos` (after the first pointer, if any).
tl::expected<void, ParseError> read_name(Bytes msg, std::size_t pos, Name& name,
                                         std::size_t& next) {
  name.clear();
  bool jumped = false;
  int hops = 0;
  // Pointers must go below the start of the label sequence that holds them.
  std::size_t floor = pos;
  while (true) {
    if (pos >= msg.size()) return tl::unexpected(ParseError::Truncated);
    const std::uint8_t len = msg[pos];
    if (len == 0) {
      if (!jumped) next = pos + 1;
      return {};
    }
    switch (len & 0xC0u) {
      case 0xC0: {
        if (pos + 1 >= msg.size()) return tl::unexpected(ParseError::Truncated);
        const std::size_t target = ((std::size_t{len} & 0x3Fu) << 8) | msg[pos + 1];
        if (!jumped) next = pos + 2;
        jumped = true;
        if (++hops > ParseLimits::kMaxPointerHops) {
          return tl::unexpected(ParseError::TooManyPointers);
        }
        if (target >= floor) return tl::unexpected(ParseError::BadPointer);
        pos = target;
        floor = target;
        continue;
      }
      case 0x00:
        break;
      default:
        return tl::unexpected(ParseError::BadLabel);  // 0x40 extended, 0x80 reserved
    }
    if (pos + 1 + len > msg.size()) return tl::unexpected(ParseError::Truncated);
    const Bytes label = msg.subspan(pos + 1, len);
    for (const std::uint8_t c : label) {
      if (c <= 0x20 || c == '.' || c == 0x7F) return tl::unexpected(ParseError::BadLabel);
    }
    if (!name.append_label(label)) return tl::unexpected(ParseError::NameTooLong);
    pos += 1 + len;
  }
}

}  // namespace

bool Name::append_label(std::span<const std::uint8_t> label) {
  const std::size_t need = label.size() + (len_ == 0 ? 0 : 1);
  if (len_ + need > kMaxNameChars) return false;
  if (len_ != 0) buf_[len_++] = '.';
  for (const std::uint8_t c : label) {
    buf_[len_++] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  return true;
}

void Name::assign(std::string_view text) {
  len_ = std::min(text.size(), kMaxNameChars);
  text.copy(buf_.data(), len_);
}

std::string_view type_name(std::uint16_t type, std::array<char, 12>& buf) {
  switch (type) {
    case rr_type::kA: return "A";
    case rr_type::kNs: return "NS";
    case rr_type::kCname: return "CNAME";
    case rr_type::kSoa: return "SOA";
    case rr_type::kPtr: return "PTR";
    case rr_type::kMx: return "MX";
    case rr_type::kTxt: return "TXT";
    case rr_type::kAaaa: return "AAAA";
    case rr_type::kOpt: return "OPT";
    default: return numbered("TYPE", type, buf);
  }
}

std::string_view rcode_name(std::uint8_t rcode, std::array<char, 12>& buf) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return numbered("RCODE", rcode, buf);
  }
}

std::string_view to_string(Section s) {
  switch (s) {
    case Section::Answer: return "answer";
    case Section::Authority: return "authority";
    case Section::Additional: return "additional";
  }
  return "answer";
}

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::Truncated: return "truncated";
    case ParseError::BadLabel: return "bad label";
    case ParseError::BadPointer: return "bad compression pointer";
    case ParseError::TooManyPointers: return "too many compression pointers";
    case ParseError::NameTooLong: return "name too long";
    case ParseError::BadRdata: return "bad rdata";
  }
  return "malformed";
}

tl::expected<void, ParseError> parse_message(Bytes msg, Message& out) {
  out.question_count = 0;
  out.record_count = 0;
  out.capped = false;
  if (msg.size() < kHeaderBytes) return tl::unexpected(ParseError::Truncated);
  const std::uint8_t* h = msg.data();
  out.id = be16(h);
  out.response = (h[2] & 0x80u) != 0;
  out.opcode = static_cast<std::uint8_t>((h[2] >> 3) & 0x0Fu);
  out.truncated = (h[2] & 0x02u) != 0;
  out.rcode = static_cast<std::uint8_t>(h[3] & 0x0Fu);
  out.qdcount = be16(h + 4);
  out.ancount = be16(h + 6);
  out.nscount = be16(h + 8);
  out.arcount = be16(h + 10);

  std::size_t pos = kHeaderBytes;
  Question scratch_question;
  for (std::uint32_t i = 0; i < out.qdcount; ++i) {
    const bool keep = out.question_count < ParseLimits::kMaxQuestions;
    Question& q = keep ? out.question_store[out.question_count] : scratch_question;
    std::size_t next = 0;
    if (auto r = read_name(msg, pos, q.name, next); !r) return r;
    if (next + 4 > msg.size()) return tl::unexpected(ParseError::Truncated);
    q.type = be16(msg.data() + next);
    q.klass = be16(msg.data() + next + 2);
    pos = next + 4;
    if (keep) ++out.question_count;
    else out.capped = true;
  }

  Record scratch_record;
  const std::uint32_t total = std::uint32_t{out.ancount} + out.nscount + out.arcount;
  for (std::uint32_t i = 0; i < total; ++i) {
    const bool keep = out.record_count < ParseLimits::kMaxRecords;
    Record& r = keep ? out.record_store[out.record_count] : scratch_record;
    r.section = i < out.ancount                  ? Section::Answer
                : i < out.ancount + out.nscount ? Section::Authority
                                                : Section::Additional;
    std::size_t next = 0;
    if (auto e = read_name(msg, pos, r.name, next); !e) return e;
    if (next + 10 > msg.size()) return tl::unexpected(ParseError::Truncated);
    const std::uint8_t* p = msg.data() + next;
    r.type = be16(p);
    r.klass = be16(p + 2);
    r.ttl = be32(p + 4);
    const std::size_t rdlength = be16(p + 8);
    const std::size_t rdata = next + 10;
    if (rdata + rdlength > msg.size()) return tl::unexpected(ParseError::Truncated);
    r.rdata_decoded = false;
    r.target.clear();
    r.preference = 0;
    r.address = IpAddress{};
    switch (r.type) {
      case rr_type::kA:
        if (rdlength != 4) return tl::unexpected(ParseError::BadRdata);
        r.address = IpAddress::v4(msg.data() + rdata);
        r.rdata_decoded = true;
        break;
      case rr_type::kAaaa:
        if (rdlength != 16) return tl::unexpected(ParseError::BadRdata);
        r.address = IpAddress::v6(msg.data() + rdata);
        r.rdata_decoded = true;
        break;
      case rr_type::kMx:
      case rr_type::kCname: {
        const std::size_t name_at = r.type == rr_type::kMx ? rdata + 2 : rdata;
        if (name_at > rdata + rdlength) return tl::unexpected(ParseError::BadRdata);
        if (r.type == rr_type::kMx) r.preference = be16(msg.data() + rdata);
        std::size_t name_end = 0;
        // The name must lie inside RDATA (pointers may lead anywhere before it).
        if (auto e = read_name(msg.first(rdata + rdlength), name_at, r.target, name_end); !e) {
          return tl::unexpected(e.error() == ParseError::Truncated ? ParseError::BadRdata
                                                                   : e.error());
        }
        if (name_end != rdata + rdlength) return tl::unexpected(ParseError::BadRdata);
        r.rdata_decoded = true;
        break;
      }
      default:
        break;
    }
    pos = rdata + rdlength;
    if (keep) ++out.record_count;
    else out.capped = true;
  }
  return {};
}

}  // namespace rcptwatch::dns
