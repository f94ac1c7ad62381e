// TLS record and ClientHello parsing (RFC 8446 4.1.2, RFC 6066 3), bounds-checked at every
// field. A hello in one record (the usual case) is read in place; one split over several
// records is joined in the caller's scratch buffer first.
#include "tls/client_hello.h"

#include <algorithm>
#include <array>

namespace rcptwatch::tls {
namespace {

constexpr std::uint8_t kRecordHandshake = 22;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::uint16_t kExtensionServerName = 0;
constexpr std::uint8_t kNameTypeHostName = 0;
constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kMaxRecordPayload = 16384 + 2048;  // TLSCiphertext bound

std::size_t be16(const std::uint8_t* p) { return (std::size_t{p[0]} << 8) | p[1]; }
std::size_t be24(const std::uint8_t* p) {
  return (std::size_t{p[0]} << 16) | (std::size_t{p[1]} << 8) | p[2];
}

// A cursor over the ClientHello body.
struct Reader {
  Bytes b;
  std::size_t pos = 0;
  bool take(std::size_t n, Bytes& out) {
    if (n > b.size() - pos) return false;
    out = b.subspan(pos, n);
    pos += n;
    return true;
  }
  bool skip(std::size_t n) {
    Bytes ignored;
    return take(n, ignored);
  }
  bool u8(std::size_t& v) {
    if (b.size() - pos < 1) return false;
    v = b[pos++];
    return true;
  }
  bool u16(std::size_t& v) {
    if (b.size() - pos < 2) return false;
    v = be16(b.data() + pos);
    pos += 2;
    return true;
  }
};

bool valid_host_char(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

SniResult parse_hello_body(Bytes body) {
  Reader r{body};
  std::size_t len = 0;
  if (!r.skip(2 + 32)) return {SniStatus::Malformed, {}};  // legacy_version, random
  if (!r.u8(len) || len > 32 || !r.skip(len)) return {SniStatus::Malformed, {}};
  if (!r.u16(len) || len % 2 != 0 || !r.skip(len)) return {SniStatus::Malformed, {}};
  if (!r.u8(len) || !r.skip(len)) return {SniStatus::Malformed, {}};
  if (r.pos == body.size()) return {SniStatus::NoSni, {}};  // no extensions at all
  Bytes extensions;
  if (!r.u16(len) || !r.take(len, extensions)) return {SniStatus::Malformed, {}};
  Reader e{extensions};
  while (e.pos < extensions.size()) {
    std::size_t type = 0;
    Bytes data;
    if (!e.u16(type) || !e.u16(len) || !e.take(len, data)) return {SniStatus::Malformed, {}};
    if (type != kExtensionServerName) continue;
    Reader s{data};
    Bytes list;
    if (!s.u16(len) || !s.take(len, list)) return {SniStatus::Malformed, {}};
    Reader l{list};
    while (l.pos < list.size()) {
      std::size_t name_type = 0;
      Bytes name;
      if (!l.u8(name_type) || !l.u16(len) || !l.take(len, name)) {
        return {SniStatus::Malformed, {}};
      }
      if (name_type != kNameTypeHostName) continue;
      if (name.empty() || name.size() > 255 || !std::all_of(name.begin(), name.end(), valid_host_char)) {
        return {SniStatus::Malformed, {}};
      }
      return {SniStatus::Found,
              std::string_view(reinterpret_cast<const char*>(name.data()), name.size())};
    }
    return {SniStatus::NoSni, {}};  // the extension, but no host_name in it
  }
  return {SniStatus::NoSni, {}};
}

}  // namespace

std::string_view to_string(SniStatus s) {
  switch (s) {
    case SniStatus::NeedMore: return "need_more";
    case SniStatus::Found: return "found";
    case SniStatus::NoSni: return "no_sni";
    case SniStatus::NotTls: return "not_tls";
    case SniStatus::Malformed: return "malformed";
  }
  return "malformed";
}

SniResult parse_client_hello(Bytes stream, std::vector<std::uint8_t>& scratch) {
  // Pass 1: walk the records until the ClientHello's length is known and covered.
  std::size_t pos = 0;
  std::size_t hello_total = 0;  // 4 + handshake length, once known
  std::size_t handshake_bytes = 0;
  std::size_t records = 0;
  std::array<std::uint8_t, 4> head{};  // first four handshake bytes, across records
  while (hello_total == 0 || handshake_bytes < hello_total) {
    if (stream.size() - pos < kRecordHeader) return {SniStatus::NeedMore, {}};
    const std::uint8_t* h = stream.data() + pos;
    if (h[0] != kRecordHandshake || h[1] != 3) {
      return {pos == 0 ? SniStatus::NotTls : SniStatus::Malformed, {}};
    }
    const std::size_t rec_len = be16(h + 3);
    if (rec_len == 0 || rec_len > kMaxRecordPayload) return {SniStatus::Malformed, {}};
    if (stream.size() - pos - kRecordHeader < rec_len) return {SniStatus::NeedMore, {}};
    for (std::size_t i = 0; i < rec_len && handshake_bytes + i < head.size(); ++i) {
      head[handshake_bytes + i] = h[kRecordHeader + i];
    }
    handshake_bytes += rec_len;
    pos += kRecordHeader + rec_len;
    ++records;
    if (hello_total == 0 && handshake_bytes >= 4) {
      if (head[0] != kHandshakeClientHello) return {SniStatus::Malformed, {}};
      hello_total = 4 + be24(head.data() + 1);
      if (hello_total > SniExtractor::kMaxBytes) return {SniStatus::Malformed, {}};
    }
  }
  if (records == 1) {
    return parse_hello_body(stream.subspan(kRecordHeader + 4, hello_total - 4));
  }
  // Pass 2 (split hello, rare): join the record payloads.
  scratch.clear();
  pos = 0;
  while (scratch.size() < hello_total) {
    const std::size_t rec_len = be16(stream.data() + pos + 3);
    const Bytes payload = stream.subspan(pos + kRecordHeader, rec_len);
    scratch.insert(scratch.end(), payload.begin(), payload.end());
    pos += kRecordHeader + rec_len;
  }
  return parse_hello_body(Bytes(scratch).subspan(4, hello_total - 4));
}

SniResult SniExtractor::feed(Bytes data) {
  if (done_) return {SniStatus::NeedMore, {}};
  SniResult r;
  if (buffer_.empty()) {
    r = parse_client_hello(data, scratch_);  // the usual case: the hello in one segment
    if (r.status == SniStatus::NeedMore) {
      if (data.size() > kMaxBytes) {
        r = {SniStatus::Malformed, {}};
      } else {
        buffer_.assign(data.begin(), data.end());
      }
    }
  } else {
    const std::size_t room = kMaxBytes - std::min(kMaxBytes, buffer_.size());
    if (data.size() > room) {
      r = {SniStatus::Malformed, {}};  // larger than any ClientHello we accept
    } else {
      buffer_.insert(buffer_.end(), data.begin(), data.end());
      r = parse_client_hello(buffer_, scratch_);
    }
  }
  if (r.status == SniStatus::NeedMore) return r;
  done_ = true;
  if (r.status == SniStatus::Found) {
    name_.assign(r.server_name);
    for (char& c : name_) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    r.server_name = name_;
  }
  buffer_.clear();
  buffer_.shrink_to_fit();
  scratch_.clear();
  scratch_.shrink_to_fit();
  return r;
}

}  // namespace rcptwatch::tls
