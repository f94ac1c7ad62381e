// Damerau-Levenshtein (optimal string alignment) distance over code points, with the edit
// script, so the matcher can both verify index candidates and name the typo technique.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace rcptwatch::detect {

// Edits that turn the protected text into the observed one.
enum class EditKind : std::uint8_t {
  Omission,       // a protected character is missing from the observed text
  Insertion,      // the observed text has an extra character
  Replacement,    // one character replaced by another
  Transposition,  // two adjacent characters swapped
};

struct EditOp {
  EditKind kind = EditKind::Replacement;
  std::size_t protected_pos = 0;  // index in the protected text (insertions: inserted before it)
  std::size_t observed_pos = 0;   // index in the observed text (omissions: where it is missing)
  char32_t expected = 0;          // protected character (0 for insertions)
  char32_t observed = 0;          // observed character (0 for omissions)
};

struct EditScript {
  std::uint32_t distance = 0;
  std::vector<EditOp> ops;  // in text order; ops.size() == distance
};

// Distance, or cap + 1 when it is larger than cap (cheap rejection by length first).
std::uint32_t osa_distance(std::u32string_view protected_text, std::u32string_view observed,
                           std::uint32_t cap);

// The full script (one optimal alignment, chosen deterministically).
EditScript osa_script(std::u32string_view protected_text, std::u32string_view observed);

// osa_script() for the matcher's hot path: the same alignment when the distance is at most
// `cap` (<= kMaxBoundedEdits), computed in a band of the matrix on the stack, no allocation.
inline constexpr std::uint32_t kMaxBoundedEdits = 3;
struct BoundedEditScript {
  std::uint32_t distance = 0;
  std::array<EditOp, kMaxBoundedEdits> ops{};  // the first `distance` are used, in text order
};
// False when the distance is above cap, or cap above kMaxBoundedEdits, or a text is longer
// than 253 code points (then use osa_script()).
bool osa_script_bounded(std::u32string_view protected_text, std::u32string_view observed, std::uint32_t cap,
                        BoundedEditScript& out);

// One text compared with many (the matcher's candidates): OSA distance bit-parallel (Hyyro
// 2003), one machine word per column, for a text of at most 64 code points. The distance is
// symmetric, so either side may be the fixed one.
class OsaPattern {
 public:
  static constexpr std::size_t kMaxLength = 64;
  explicit OsaPattern(std::u32string_view text);  // text.size() <= kMaxLength
  std::uint32_t distance(std::u32string_view other) const;

 private:
  std::uint64_t mask_of(char32_t c) const;
  std::array<std::uint8_t, 128> ascii_slot_;            // ASCII character -> its slot in masks_
  std::array<std::uint64_t, kMaxLength + 1> masks_;     // bit i: text[i] is that character
  std::array<char32_t, kMaxLength> other_chars_;        // non-ASCII characters of the text
  std::array<std::uint64_t, kMaxLength> other_masks_;
  std::size_t used_ = 0;
  std::size_t others_ = 0;
  std::size_t length_ = 0;
};

}  // namespace rcptwatch::detect
