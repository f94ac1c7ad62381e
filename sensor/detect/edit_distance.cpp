// Optimal string alignment distance with back-trace (see edit_distance.h). Inputs are domain
// names (at most 253 code points), so a full matrix is small and keeps the back-trace simple.
#include "detect/edit_distance.h"

#include <algorithm>
#include <array>

namespace rcptwatch::detect {
namespace {

constexpr std::size_t kRowCells = 256;  // one row of the banded distance (domains: <= 253)

struct Matrix {
  std::size_t cols;
  std::vector<std::uint32_t> cells;
  std::uint32_t& at(std::size_t i, std::size_t j) { return cells[i * cols + j]; }
  std::uint32_t at(std::size_t i, std::size_t j) const { return cells[i * cols + j]; }
};

Matrix fill(std::u32string_view p, std::u32string_view o) {
  const std::size_t m = p.size();
  const std::size_t n = o.size();
  Matrix d{n + 1, std::vector<std::uint32_t>((m + 1) * (n + 1), 0)};
  for (std::size_t i = 0; i <= m; ++i) d.at(i, 0) = static_cast<std::uint32_t>(i);
  for (std::size_t j = 0; j <= n; ++j) d.at(0, j) = static_cast<std::uint32_t>(j);
  for (std::size_t i = 1; i <= m; ++i) {
    for (std::size_t j = 1; j <= n; ++j) {
      const std::uint32_t cost = p[i - 1] == o[j - 1] ? 0 : 1;
      std::uint32_t best = std::min({d.at(i - 1, j) + 1, d.at(i, j - 1) + 1, d.at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && p[i - 1] == o[j - 2] && p[i - 2] == o[j - 1] && p[i - 1] != p[i - 2]) {
        best = std::min(best, d.at(i - 2, j - 2) + 1);
      }
      d.at(i, j) = best;
    }
  }
  return d;
}

// Cells |i - j| <= cap of the matrix, saturated at cap + 1: every cell an optimal alignment of
// cost <= cap passes through is exact, and every other one compares as too large, so a
// back-trace over it makes the same choices as over the full matrix. Each row has one cell
// more on either side, held at cap + 1, so reading a neighbour just outside needs no test.
class Band {
 public:
  Band(std::size_t cap, std::size_t rows) : cap_(cap), over_(static_cast<std::uint8_t>(cap + 1)), width_(2 * cap + 3) {
    for (std::size_t i = 0; i < rows; ++i) {
      cells_[i * width_] = over_;
      cells_[i * width_ + width_ - 1] = over_;
    }
  }
  // |i - j| <= cap + 1 (the band and its edges).
  std::uint32_t at(std::size_t i, std::size_t j) const { return cells_[i * width_ + (j + cap_ + 1 - i)]; }
  // Row i indexed by j (the same cells as at(i, j)), for the fill's inner loop.
  std::uint8_t* row(std::size_t i) { return cells_.data() + (i * width_ + cap_ + 1 - i); }
  std::uint8_t over() const { return over_; }
  void set(std::size_t i, std::size_t j, std::uint32_t v) {
    cells_[i * width_ + (j + cap_ + 1 - i)] = static_cast<std::uint8_t>(std::min<std::uint32_t>(v, over_));
  }

 private:
  std::size_t cap_;
  std::uint8_t over_;
  std::size_t width_;
  std::array<std::uint8_t, kRowCells * (2 * kMaxBoundedEdits + 3)> cells_;
};

// The back-trace shared by osa_script() and osa_script_bounded(): walks back preferring
// matches, then transposition, replacement, omission, insertion (a fixed preference keeps the
// reported technique stable for equal-cost alignments) and calls emit(op) from the end.
template <typename M, typename F>
void trace_back(const M& d, std::u32string_view p, std::u32string_view o, F&& emit) {
  std::size_t i = p.size();
  std::size_t j = o.size();
  while (i > 0 || j > 0) {
    const std::uint32_t here = d.at(i, j);
    if (i > 0 && j > 0 && p[i - 1] == o[j - 1] && d.at(i - 1, j - 1) == here) {
      --i;
      --j;
      continue;
    }
    if (i > 1 && j > 1 && p[i - 1] == o[j - 2] && p[i - 2] == o[j - 1] && p[i - 1] != p[i - 2] &&
        d.at(i - 2, j - 2) + 1 == here) {
      emit(EditOp{EditKind::Transposition, i - 2, j - 2, p[i - 2], o[j - 2]});
      i -= 2;
      j -= 2;
      continue;
    }
    if (i > 0 && j > 0 && d.at(i - 1, j - 1) + 1 == here) {
      emit(EditOp{EditKind::Replacement, i - 1, j - 1, p[i - 1], o[j - 1]});
      --i;
      --j;
      continue;
    }
    if (i > 0 && d.at(i - 1, j) + 1 == here) {
      emit(EditOp{EditKind::Omission, i - 1, j, p[i - 1], 0});
      --i;
      continue;
    }
    emit(EditOp{EditKind::Insertion, i, j - 1, 0, o[j - 1]});
    --j;
  }
}

}  // namespace

std::uint32_t osa_distance(std::u32string_view protected_text, std::u32string_view observed,
                           std::uint32_t cap) {
  const std::size_t m = protected_text.size();
  const std::size_t n = observed.size();
  const std::size_t diff = m > n ? m - n : n - m;
  if (diff > cap) return cap + 1;
  if (m >= kRowCells || n >= kRowCells) {
    Matrix d = fill(protected_text, observed);
    return std::min(d.at(m, n), cap + 1);
  }
  // Three rows on the stack, and only the band |i - j| <= cap: a cell outside it is more than
  // cap away for sure, so it is held at cap + 1 (saturated), which leaves every value <= cap
  // exact. Stops as soon as a whole row is above cap, since values never decrease downwards.
  const std::uint32_t over = cap + 1;
  const auto sat = [over](std::size_t v) { return v > over ? over : static_cast<std::uint32_t>(v); };
  std::array<std::uint32_t, kRowCells> rows[3];
  std::uint32_t* prev2 = rows[0].data();
  std::uint32_t* prev = rows[1].data();
  std::uint32_t* cur = rows[2].data();
  for (std::size_t j = 0; j <= n; ++j) prev[j] = sat(j);
  for (std::size_t i = 1; i <= m; ++i) {
    const std::size_t lo = i > cap ? i - cap : 1;
    const std::size_t hi = std::min(n, i + cap);
    cur[0] = sat(i);
    if (lo > 1) cur[lo - 1] = over;
    std::uint32_t row_min = lo == 1 ? cur[0] : over;
    const char32_t pc = protected_text[i - 1];
    for (std::size_t j = lo; j <= hi; ++j) {
      const char32_t oc = observed[j - 1];
      const std::uint32_t up = (j <= std::min(n, i - 1 + cap)) ? prev[j] : over;
      std::uint32_t best = std::min({up + 1, cur[j - 1] + 1, prev[j - 1] + (pc == oc ? 0u : 1u)});
      if (i > 1 && j > 1 && pc == observed[j - 2] && protected_text[i - 2] == oc && pc != protected_text[i - 2]) {
        best = std::min(best, prev2[j - 2] + 1);
      }
      best = std::min(best, over);
      cur[j] = best;
      row_min = std::min(row_min, best);
    }
    if (hi < n) cur[hi + 1] = over;
    if (row_min >= over) return over;
    std::uint32_t* t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return std::min(prev[n], over);
}

EditScript osa_script(std::u32string_view p, std::u32string_view o) {
  Matrix d = fill(p, o);
  EditScript script;
  script.distance = d.at(p.size(), o.size());
  trace_back(d, p, o, [&](const EditOp& op) { script.ops.push_back(op); });
  std::reverse(script.ops.begin(), script.ops.end());
  return script;
}

namespace {

// osa_script_bounded() for cap 1, the matcher's usual case, without the matrix: the back-trace
// takes equal characters from the end as long as they last (an equal last pair never costs an
// edit), and what is left before them must be one edit, tried in the back-trace's order.
bool one_edit_script(std::u32string_view p, std::u32string_view o, BoundedEditScript& out) {
  std::size_t i = p.size();
  std::size_t j = o.size();
  while (i > 0 && j > 0 && p[i - 1] == o[j - 1]) {
    --i;
    --j;
  }
  out.distance = 0;
  if (i == 0 && j == 0) return true;
  const auto same_before = [&](std::size_t a, std::size_t b) { return a == b && p.substr(0, a) == o.substr(0, b); };
  EditOp& op = out.ops[0];
  if (i > 1 && j > 1 && p[i - 1] == o[j - 2] && p[i - 2] == o[j - 1] && p[i - 1] != p[i - 2] && same_before(i - 2, j - 2)) {
    op = EditOp{EditKind::Transposition, i - 2, j - 2, p[i - 2], o[j - 2]};
  } else if (i > 0 && j > 0 && same_before(i - 1, j - 1)) {
    op = EditOp{EditKind::Replacement, i - 1, j - 1, p[i - 1], o[j - 1]};
  } else if (i > 0 && same_before(i - 1, j)) {
    op = EditOp{EditKind::Omission, i - 1, j, p[i - 1], 0};
  } else if (j > 0 && same_before(i, j - 1)) {
    op = EditOp{EditKind::Insertion, i, j - 1, 0, o[j - 1]};
  } else {
    return false;  // more than one edit
  }
  out.distance = 1;
  return true;
}

}  // namespace

bool osa_script_bounded(std::u32string_view p, std::u32string_view o, std::uint32_t cap, BoundedEditScript& out) {
  const std::size_t m = p.size();
  const std::size_t n = o.size();
  if (cap > kMaxBoundedEdits || m >= kRowCells || n >= kRowCells || (m > n ? m - n : n - m) > cap) return false;
  if (cap == 1) return one_edit_script(p, o, out);
  Band d(cap, m + 1);
  const std::uint32_t over = d.over();
  for (std::size_t j = 0; j <= std::min(n, std::size_t{cap}); ++j) d.set(0, j, static_cast<std::uint32_t>(j));
  for (std::size_t i = 1; i <= m; ++i) {
    // The recurrence of osa_script(), on row pointers: the same cells read and written as
    // through at()/set(), without the index arithmetic per cell.
    std::uint8_t* cur = d.row(i);
    const std::uint8_t* up = d.row(i - 1);
    const std::uint8_t* up2 = i > 1 ? d.row(i - 2) : nullptr;
    const char32_t pc = p[i - 1];
    const char32_t pc2 = i > 1 ? p[i - 2] : 0;
    const bool may_swap = i > 1 && pc != pc2;
    std::size_t j = i > cap ? i - cap : 0;
    const std::size_t hi = std::min(n, i + cap);
    if (j == 0) {
      cur[0] = static_cast<std::uint8_t>(std::min<std::uint32_t>(static_cast<std::uint32_t>(i), over));
      j = 1;
    }
    for (; j <= hi; ++j) {
      const char32_t oc = o[j - 1];
      std::uint32_t best = std::min({up[j] + 1u, cur[j - 1] + 1u, up[j - 1] + (pc == oc ? 0u : 1u)});
      if (may_swap && j > 1 && pc == o[j - 2] && pc2 == oc) best = std::min(best, up2[j - 2] + 1u);
      cur[j] = static_cast<std::uint8_t>(std::min(best, over));
    }
  }
  out.distance = d.at(m, n);
  if (out.distance > cap) return false;
  std::size_t k = out.distance;
  trace_back(d, p, o, [&](const EditOp& op) { out.ops[--k] = op; });
  return true;
}

OsaPattern::OsaPattern(std::u32string_view text) : length_(std::min(text.size(), kMaxLength)) {
  ascii_slot_.fill(0);
  masks_[0] = 0;  // slot 0: a character the text does not have
  for (std::size_t i = 0; i < length_; ++i) {
    const char32_t c = text[i];
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (c < 128) {
      if (ascii_slot_[c] == 0) {
        ascii_slot_[c] = static_cast<std::uint8_t>(++used_);
        masks_[used_] = 0;
      }
      masks_[ascii_slot_[c]] |= bit;
      continue;
    }
    std::size_t k = 0;
    while (k < others_ && other_chars_[k] != c) ++k;
    if (k == others_) {
      other_chars_[others_] = c;
      other_masks_[others_++] = 0;
    }
    other_masks_[k] |= bit;
  }
}

std::uint64_t OsaPattern::mask_of(char32_t c) const {
  if (c < 128) return masks_[ascii_slot_[c]];
  for (std::size_t k = 0; k < others_; ++k) {
    if (other_chars_[k] == c) return other_masks_[k];
  }
  return 0;
}

std::uint32_t OsaPattern::distance(std::u32string_view other) const {
  const std::size_t m = length_;
  if (m == 0) return static_cast<std::uint32_t>(other.size());
  // Vertical deltas of the column (+1 / -1 bits), the diagonal-zero vector of the previous
  // column and its match mask (for transpositions); the score follows the last row.
  const std::uint64_t last = std::uint64_t{1} << (m - 1);
  std::uint64_t vp = ~std::uint64_t{0};
  std::uint64_t vn = 0;
  std::uint64_t d0 = 0;
  std::uint64_t pm_prev = 0;
  auto score = static_cast<std::uint32_t>(m);
  for (const char32_t c : other) {
    const std::uint64_t pm = mask_of(c);
    const std::uint64_t tr = (((~d0) & pm) << 1) & pm_prev;
    d0 = (((pm & vp) + vp) ^ vp) | pm | vn | tr;
    std::uint64_t hp = vn | ~(d0 | vp);
    std::uint64_t hn = d0 & vp;
    if (hp & last) {
      ++score;
    } else if (hn & last) {
      --score;
    }
    hp = (hp << 1) | 1;
    hn <<= 1;
    vp = hn | ~(d0 | hp);
    vn = d0 & hp;
    pm_prev = pm;
  }
  return score;
}

}  // namespace rcptwatch::detect
