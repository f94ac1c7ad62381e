// Domain name normalisation shared by the rule loader and the matcher: one canonical ASCII
// form (A-labels) for exact comparisons and the public-suffix lookup, and one Unicode form
// (U-labels) for homoglyph comparisons.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace rcptwatch::detect {

struct NormalisedDomain {
  std::string ascii;    // lower-case A-labels, no trailing dot
  std::string unicode;  // U-labels in UTF-8; a malformed xn-- label is kept as it came
  bool malformed_idn = false;  // some xn-- label did not decode to a valid IDNA2008 label
};

enum class DomainError {
  Empty,
  TooLong,        // more than 253 characters, or a label longer than 63
  EmptyLabel,     // "a..b", ".a"
  BadCharacter,   // outside letters, digits, '-' and '_'
  BadHyphen,      // a label starting or ending with '-'
  BadIdn,         // non-ASCII input that IDNA2008 (UTS #46) refuses
};
std::string_view to_string(DomainError e);

// Lower-cases ASCII, strips one trailing dot, converts non-ASCII input to A-labels and decodes
// xn-- labels. A malformed xn-- label is not an error here: it sets `malformed_idn`.
tl::expected<NormalisedDomain, DomainError> normalise_domain(std::string_view input);

// normalise_domain() without allocating, for the common case: input that is plain ASCII and
// has no xn-- label, so its ASCII and Unicode forms are one and the same. The normalised form
// is written to `buf`, NUL-terminated (for C libraries), and returned as a view of it.
// nullopt: the input needs normalise_domain() (non-ASCII, or an xn-- label).
inline constexpr std::size_t kMaxDomainLength = 253;
using DomainBuffer = std::array<char, kMaxDomainLength + 1>;
std::optional<tl::expected<std::string_view, DomainError>> normalise_plain_ascii(std::string_view input,
                                                                                  DomainBuffer& buf);

// Splits on '.'; the views point into `domain`.
std::vector<std::string_view> split_labels(std::string_view domain);
// The last `n` labels of `domain` (all of it when it has fewer), a view into `domain`.
std::string_view trailing_labels(std::string_view domain, std::size_t n);
std::size_t count_labels(std::string_view domain);

// UTF-8 <-> UTF-32 for edit distances counted in code points. Input is assumed valid (it comes
// out of libidn2); an invalid byte becomes U+FFFD.
std::u32string utf8_to_utf32(std::string_view s);
// The same into `out` (no allocation); returns the number of code points, at most out.size()
// (the rest of `s` is dropped).
std::size_t utf8_to_utf32(std::string_view s, std::span<char32_t> out);
std::string utf32_to_utf8(std::u32string_view s);

}  // namespace rcptwatch::detect
