// DNS message parser (RFC 1035): header, questions and resource records with name
// compression, into a fixed-capacity value that is reused from message to message, so parsing
// never allocates. Bad messages end in a ParseError the caller counts; nothing is thrown.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "common/types.h"

namespace rcptwatch::dns {

namespace rr_type {
inline constexpr std::uint16_t kA = 1;
inline constexpr std::uint16_t kNs = 2;
inline constexpr std::uint16_t kCname = 5;
inline constexpr std::uint16_t kSoa = 6;
inline constexpr std::uint16_t kPtr = 12;
inline constexpr std::uint16_t kMx = 15;
inline constexpr std::uint16_t kTxt = 16;
inline constexpr std::uint16_t kAaaa = 28;
inline constexpr std::uint16_t kOpt = 41;
}  // namespace rr_type

// "A", "MX", ... or "TYPE<n>" (RFC 3597) written into `buf` for the others.
std::string_view type_name(std::uint16_t type, std::array<char, 12>& buf);
// "NOERROR", "NXDOMAIN", ... or "RCODE<n>".
std::string_view rcode_name(std::uint8_t rcode, std::array<char, 12>& buf);

// A domain name in presentation form without the trailing dot, lower-cased ASCII; "" is the
// root. 253 characters is the longest a valid wire name can spell.
class Name {
 public:
  std::string_view view() const { return {buf_.data(), len_}; }
  bool empty() const { return len_ == 0; }
  void clear() { len_ = 0; }
  // Appends one label (with a separating dot); false when the name would exceed 253 bytes.
  bool append_label(std::span<const std::uint8_t> label);
  void assign(std::string_view text);  // test helper; cuts at 253 bytes

 private:
  std::array<char, 253> buf_{};
  std::size_t len_ = 0;
};

enum class Section : std::uint8_t { Answer, Authority, Additional };
std::string_view to_string(Section s);

struct Question {
  Name name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
};

// One resource record. Only the RDATA of A, AAAA, MX and CNAME is decoded (`address`,
// `target`, `preference`); for other types `rdata_decoded` is false.
struct Record {
  Section section = Section::Answer;
  Name name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  bool rdata_decoded = false;
  IpAddress address;           // A / AAAA
  Name target;                 // MX exchange, CNAME target
  std::uint16_t preference = 0;  // MX
};

struct ParseLimits {
  static constexpr std::size_t kMaxQuestions = 4;
  static constexpr std::size_t kMaxRecords = 32;
  // Compression pointers followed while reading one name; each must also point backwards, so
  // a loop is impossible even without this bound, which caps the work per name.
  static constexpr int kMaxPointerHops = 16;
};

struct Message {
  std::uint16_t id = 0;
  bool response = false;
  std::uint8_t opcode = 0;
  bool truncated = false;   // TC bit
  std::uint8_t rcode = 0;
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;
  std::array<Question, ParseLimits::kMaxQuestions> question_store;
  std::array<Record, ParseLimits::kMaxRecords> record_store;
  std::size_t question_count = 0;
  std::size_t record_count = 0;
  // Questions or records beyond the fixed capacity were skipped (parsed for their length
  // only); counted by the caller.
  bool capped = false;

  std::span<const Question> questions() const { return {question_store.data(), question_count}; }
  std::span<const Record> records() const { return {record_store.data(), record_count}; }
};

enum class ParseError : std::uint8_t {
  Truncated,        // a header, name or record runs past the end
  BadLabel,         // label type 0x40/0x80, or a label with a dot, space or control byte
  BadPointer,       // compression pointer forward, to itself, or past the end
  TooManyPointers,  // more than kMaxPointerHops in one name
  NameTooLong,      // over 253 characters
  BadRdata,         // RDATA length inconsistent with its type (A not 4 bytes, ...)
};
std::string_view to_string(ParseError e);

// Parses one whole DNS message (the UDP payload, or one TCP message without its length
// prefix) into `out`. On error `out` holds whatever was read before it.
tl::expected<void, ParseError> parse_message(Bytes message, Message& out);

}  // namespace rcptwatch::dns
