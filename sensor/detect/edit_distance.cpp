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
  std::size_t i = p.size();
  std::size_t j = o.size();
  // Walk back preferring matches, then transposition, replacement, omission, insertion: a
  // fixed preference keeps the reported technique stable for equal-cost alignments.
  while (i > 0 || j > 0) {
    const std::uint32_t here = d.at(i, j);
    if (i > 0 && j > 0 && p[i - 1] == o[j - 1] && d.at(i - 1, j - 1) == here) {
      --i;
      --j;
      continue;
    }
    if (i > 1 && j > 1 && p[i - 1] == o[j - 2] && p[i - 2] == o[j - 1] && p[i - 1] != p[i - 2] &&
        d.at(i - 2, j - 2) + 1 == here) {
      script.ops.push_back({EditKind::Transposition, i - 2, j - 2, p[i - 2], o[j - 2]});
      i -= 2;
      j -= 2;
      continue;
    }
    if (i > 0 && j > 0 && d.at(i - 1, j - 1) + 1 == here) {
      script.ops.push_back({EditKind::Replacement, i - 1, j - 1, p[i - 1], o[j - 1]});
      --i;
      --j;
      continue;
    }
    if (i > 0 && d.at(i - 1, j) + 1 == here) {
      script.ops.push_back({EditKind::Omission, i - 1, j, p[i - 1], 0});
      --i;
      continue;
    }
    script.ops.push_back({EditKind::Insertion, i, j - 1, 0, o[j - 1]});
    --j;
  }
  std::reverse(script.ops.begin(), script.ops.end());
  return script;
}

}  // namespace rcptwatch::detect
