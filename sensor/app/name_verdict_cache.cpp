#include "app/name_verdict_cache.h"

#include <cstring>
#include <random>

#include "common/hash.h"

namespace rcptwatch::app {

NameVerdictCache::NameVerdictCache(std::uint64_t seed)
    : seed_(fmix64(seed ^ 0x9e3779b97f4a7c15ULL) | 1), lines_(std::make_unique<Line[]>(kEntries)) {}

NameVerdictCache::NameVerdictCache()
    : NameVerdictCache((std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

NameVerdictCache::~NameVerdictCache() = default;

// Word at a time, seeded: names come from the network, and one that collides only costs a
// trip to the matcher's cache, but a fixed function would let a sender pick names that share
// one set for everybody. The last word is read ending at the name's end (overlapping the one
// before it), so there is no byte loop or variable-length copy.
std::uint64_t NameVerdictCache::hash(std::string_view name) const {
  constexpr std::uint64_t kMul = 0x9fb21c651e98df25ULL;
  const char* p = name.data();
  const std::size_t n = name.size();
  std::uint64_t h = seed_ ^ (n * 0x9e3779b97f4a7c15ULL);
  std::uint64_t w;
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&w, p + i, 8);
      h = (h ^ w) * kMul;
      h ^= h >> 32;
    }
    std::memcpy(&w, p + n - 8, 8);
  } else if (n >= 4) {
    std::uint32_t a;
    std::uint32_t b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    w = std::uint64_t{a} << 32 | b;
  } else {
    w = n == 0 ? 0 : std::uint64_t{static_cast<unsigned char>(p[0])} << 16 | std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 | static_cast<unsigned char>(p[n - 1]);
  }
  h = (h ^ w) * kMul;
  return (h ^ (h >> 29)) | 1;  // never 0, so no empty line can match
}

void NameVerdictCache::clear() {
  for (std::size_t i = 0; i < kEntries; ++i) lines_[i].state = kEmpty;
  matches_.clear();
}

bool NameVerdictCache::holds(const Line& l, std::uint64_t h, std::string_view name) {
  return l.hash == h && l.state != kEmpty && l.length == name.size() &&
         std::memcmp(l.name, name.data(), name.size()) == 0;
}

// The way already holding `name`, else an empty one, else the one not used last.
std::size_t NameVerdictCache::way_for(std::size_t set, std::uint64_t h, std::string_view name) const {
  if (holds(lines_[set], h, name)) return set;
  if (holds(lines_[set + 1], h, name)) return set + 1;
  if (lines_[set].state == kEmpty) return set;
  if (lines_[set + 1].state == kEmpty) return set + 1;
  return lines_[set].recent ? set + 1 : set;
}

const std::optional<NameVerdict>* NameVerdictCache::find(std::string_view name,
                                                         const detect::Matcher* matcher,
                                                         const detect::Matcher* learned) {
  const std::uint64_t matcher_id = matcher ? matcher->id() : 0;
  const std::uint64_t learned_id = learned ? learned->id() : 0;
  if (matcher_id != matcher_ || learned_id != learned_) {
    clear();
    matcher_ = matcher_id;
    learned_ = learned_id;
  }
  if (name.size() > kMaxName) {
    ++misses_;
    return nullptr;
  }
  const std::uint64_t h = hash(name);
  const std::size_t set = set_of(h);
  for (std::size_t at = set; at < set + 2; ++at) {
    Line& l = lines_[at];
    if (holds(l, h, name)) {
      l.recent = 1;
      lines_[at ^ 1].recent = 0;
      ++hits_;
      return l.state == kMatch ? &matches_.at(at) : &none_;
    }
  }
  ++misses_;
  return nullptr;
}

void NameVerdictCache::put(std::string_view name, const std::optional<NameVerdict>& verdict) {
  if (name.size() > kMaxName) return;
  const std::uint64_t h = hash(name);
  const std::size_t set = set_of(h);
  const std::size_t at = way_for(set, h, name);
  Line& l = lines_[at];
  l.hash = h;
  l.length = static_cast<std::uint8_t>(name.size());
  std::memcpy(l.name, name.data(), name.size());
  l.recent = 1;
  lines_[at ^ 1].recent = 0;
  if (verdict) {
    matches_[at] = verdict;
    l.state = kMatch;
  } else {
    matches_.erase(at);
    l.state = kNoMatch;
  }
}

}  // namespace rcptwatch::app
