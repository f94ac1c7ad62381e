// Damerau-Levenshtein (optimal string alignment) distance over code points, with the edit
// script, so the matcher can both verify index candidates and name the typo technique.
#pragma once

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

}  // namespace rcptwatch::detect
