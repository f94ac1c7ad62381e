// Domain name normalisation (see domain_name.h): ASCII rules here, IDNA via libidn2.
#include "detect/domain_name.h"

#include <idn2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace rcptwatch::detect {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using CPtr = std::unique_ptr<T, FreeDeleter>;

constexpr std::size_t kMaxDomain = kMaxDomainLength;
constexpr std::size_t kMaxLabel = 63;

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

tl::expected<void, DomainError> check_ascii_syntax(std::string_view d) {
  if (d.empty()) return tl::unexpected(DomainError::Empty);
  if (d.size() > kMaxDomain) return tl::unexpected(DomainError::TooLong);
  // Label by label without building a vector of them (this runs on every lookup).
  for (std::size_t start = 0; start <= d.size();) {
    const std::size_t dot = std::min(d.find('.', start), d.size());
    const std::string_view label = d.substr(start, dot - start);
    start = dot + 1;
    if (label.empty()) return tl::unexpected(DomainError::EmptyLabel);
    if (label.size() > kMaxLabel) return tl::unexpected(DomainError::TooLong);
    for (const char c : label) {
      if (!is_label_char(c)) return tl::unexpected(DomainError::BadCharacter);
    }
    if (label.front() == '-' || label.back() == '-') return tl::unexpected(DomainError::BadHyphen);
  }
  return {};
}

// Decodes one "xn--" label; empty result when it is not a valid IDNA2008 label (bad punycode,
// decodes to nothing, or does not encode back to itself).
std::string decode_a_label(const std::string& label) {
  char* raw = nullptr;
  if (idn2_to_unicode_8z8z(label.c_str(), &raw, 0) != IDN2_OK || raw == nullptr) return {};
  CPtr<char> u(raw);
  if (*u == '\0') return {};
  uint8_t* back_raw = nullptr;
  if (idn2_lookup_u8(reinterpret_cast<const uint8_t*>(u.get()), &back_raw, IDN2_NONTRANSITIONAL) !=
          IDN2_OK ||
      back_raw == nullptr) {
    return {};
  }
  CPtr<uint8_t> back(back_raw);
  if (label != reinterpret_cast<const char*>(back.get())) return {};
  return std::string(u.get());
}

}  // namespace

std::string_view to_string(DomainError e) {
  switch (e) {
    case DomainError::Empty: return "empty domain";
    case DomainError::TooLong: return "domain or label too long";
    case DomainError::EmptyLabel: return "empty label";
    case DomainError::BadCharacter: return "character not allowed in a domain";
    case DomainError::BadHyphen: return "label starts or ends with '-'";
    case DomainError::BadIdn: return "not a valid internationalised domain name";
  }
  return "unknown domain error";
}

std::vector<std::string_view> split_labels(std::string_view domain) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(domain.substr(start));
      return out;
    }
    out.push_back(domain.substr(start, dot - start));
    start = dot + 1;
  }
}

std::size_t count_labels(std::string_view domain) {
  if (domain.empty()) return 0;
  std::size_t n = 1;
  for (const char c : domain) n += (c == '.') ? 1 : 0;
  return n;
}

std::string_view trailing_labels(std::string_view domain, std::size_t n) {
  if (n == 0) return domain.substr(domain.size());
  std::size_t seen = 0;
  for (std::size_t i = domain.size(); i-- > 0;) {
    if (domain[i] == '.' && ++seen == n) return domain.substr(i + 1);
  }
  return domain;
}

tl::expected<NormalisedDomain, DomainError> normalise_domain(std::string_view input) {
  if (!input.empty() && input.back() == '.') input.remove_suffix(1);
  if (input.empty()) return tl::unexpected(DomainError::Empty);
  if (input.size() > 4 * kMaxDomain) return tl::unexpected(DomainError::TooLong);

  NormalisedDomain out;
  if (is_ascii(input)) {
    out.ascii.reserve(input.size());
    for (const char c : input) out.ascii.push_back(ascii_lower(c));
  } else {
    const std::string z(input);
    char* raw = nullptr;
    if (idn2_to_ascii_8z(z.c_str(), &raw, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK ||
        raw == nullptr) {
      return tl::unexpected(DomainError::BadIdn);
    }
    CPtr<char> a(raw);
    out.ascii = a.get();
    for (char& c : out.ascii) c = ascii_lower(c);
  }
  if (auto ok = check_ascii_syntax(out.ascii); !ok) return tl::unexpected(ok.error());

  // Nearly every domain has no xn-- label: then the Unicode form is the ASCII one.
  if (out.ascii.find("xn--") == std::string::npos) {
    out.unicode = out.ascii;
    return out;
  }
  out.unicode.reserve(out.ascii.size());
  bool first = true;
  for (const std::string_view label : split_labels(out.ascii)) {
    if (!first) out.unicode.push_back('.');
    first = false;
    if (label.starts_with("xn--")) {
      const std::string decoded = decode_a_label(std::string(label));
      if (decoded.empty()) {
        out.malformed_idn = true;
        out.unicode.append(label);
      } else {
        out.unicode.append(decoded);
      }
    } else {
      out.unicode.append(label);
    }
  }
  return out;
}

namespace {

// What lower_plain_valid() needs to know of a byte, from one table lookup. kUpper is the bit
// that lower-cases an ASCII letter.
enum : std::uint8_t { kAllowed = 1, kDot = 2, kHyphen = 4, kUpper = 0x20 };
constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (is_label_char(ascii_lower(static_cast<char>(c)))) t[c] |= kAllowed;
    if (c >= 'A' && c <= 'Z') t[c] |= kUpper;
  }
  t['.'] = kAllowed | kDot;
  t['-'] |= kHyphen;
  return t;
}();
static_assert('A' + kUpper == 'a');

// The common case of normalise_plain_ascii() in one pass: a valid domain of ASCII label
// characters with no "--" anywhere (so no xn-- label), lower-cased into buf. nullopt for
// anything else, which the general checks then look at in their own order (an invalid
// domain's error stays the first one they find). Dots and hyphens, a few per domain, are
// the only characters that take a branch.
std::optional<std::string_view> lower_plain_valid(std::string_view input, DomainBuffer& buf) {
  if (!input.empty() && input.back() == '.') input.remove_suffix(1);
  const std::size_t end = input.size();
  if (end == 0 || end > kMaxDomain) return std::nullopt;
  std::uint8_t all = kAllowed;  // AND of the classes
  std::size_t label_start = 0;
  bool ok = true;
  // A label is 1 to 63 characters and neither starts nor ends with a hyphen.
  const auto label_ok = [&](std::size_t label_end) {
    return label_end != label_start && label_end - label_start <= kMaxLabel && input[label_start] != '-' &&
           input[label_end - 1] != '-';
  };
  for (std::size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(input[i]);
    const std::uint8_t cls = kByteClass[c];
    buf[i] = static_cast<char>(c | (cls & kUpper));
    all &= cls;
    if ((cls & (kDot | kHyphen)) == 0) continue;
    if (cls & kDot) {
      ok &= label_ok(i);
      label_start = i + 1;
    } else {
      ok &= !(i > label_start && input[i - 1] == '-');  // "--", as in xn--
    }
  }
  if (!ok || !label_ok(end) || !(all & kAllowed)) return std::nullopt;
  buf[end] = '\0';
  return std::string_view(buf.data(), end);
}

}  // namespace

std::optional<tl::expected<std::string_view, DomainError>> normalise_plain_ascii(std::string_view input,
                                                                                  DomainBuffer& buf) {
  if (const auto plain = lower_plain_valid(input, buf)) return *plain;
  if (!is_ascii(input)) return std::nullopt;
  if (!input.empty() && input.back() == '.') input.remove_suffix(1);
  if (input.size() > kMaxDomain) {
    // Still an error for normalise_domain(), unless it is too long even for its first check.
    return tl::unexpected(DomainError::TooLong);
  }
  for (std::size_t i = 0; i < input.size(); ++i) buf[i] = ascii_lower(input[i]);
  buf[input.size()] = '\0';
  const std::string_view ascii(buf.data(), input.size());
  if (ascii.empty()) return tl::unexpected(DomainError::Empty);
  if (auto ok = check_ascii_syntax(ascii); !ok) return tl::unexpected(ok.error());
  if (ascii.find("xn--") != std::string_view::npos) return std::nullopt;
  return ascii;
}

std::size_t utf8_to_utf32(std::string_view s, std::span<char32_t> out) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < out.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1Fu;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0Fu;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07u;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (!ok) {
      out[n++] = U'\uFFFD';
      ++i;
      continue;
    }
    out[n++] = cp;
    i += len;
  }
  return n;
}

std::u32string utf8_to_utf32(std::string_view s) {
  std::u32string out(s.size(), U'\0');  // never more code points than bytes
  out.resize(utf8_to_utf32(s, std::span<char32_t>(out.data(), out.size())));
  return out;
}

std::string utf32_to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char32_t cp : s) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

}  // namespace rcptwatch::detect
