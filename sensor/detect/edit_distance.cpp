// Optimal string alignment distance with back-trace (see edit_distance.h). Inputs are domain
// names (at most 253 code points), so a full matrix is small and keeps the back-trace simple.
#include "detect/edit_distance.h"

#include <algorithm>

namespace rcptwatch::detect {
namespace {

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
  const std::size_t diff = protected_text.size() > observed.size()
                               ? protected_text.size() - observed.size()
                               : observed.size() - protected_text.size();
  if (diff > cap) return cap + 1;
  Matrix d = fill(protected_text, observed);
  return std::min(d.at(protected_text.size(), observed.size()), cap + 1);
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
