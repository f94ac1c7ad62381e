// A pipeline's own small cache of name verdicts, in front of the matchers' shared ones.
//
// Every recipient domain and every server name of a connection is judged, and a few hundred
// domains make most of the mail, so nearly every judgement is a hit of the matcher's verdict
// cache. That cache is shared by the workers: a hit hashes the whole name, takes a shard's
// lock and follows two pointers (set, entry) before comparing, about 290 instructions and two
// cache misses on a replay, where packet data keeps pushing it out of the caches. This one
// belongs to one pipeline, so it takes no lock, and a hit reads one 64-byte line: the name is
// kept in the line itself and compared there. A verdict with a match (rare: alerts) is kept
// beside it. Names longer than a line holds go to the matchers as before.
//
// Verdicts are a function of the matcher and the name only, so an entry stays right for as
// long as the same two matchers (configured, learned; told apart by Matcher::id()) judge; a
// reload or a new learned matcher empties it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "detect/matcher.h"

namespace rcptwatch::app {

// A name judged against the configured rules and, when learning, the learned ones.
struct NameVerdict {
  detect::Match match;
  bool learned = false;
};

class NameVerdictCache {
 public:
  static constexpr std::size_t kEntries = 4096;  // 256 KiB of lines, two to a set
  static constexpr std::size_t kMaxName = 53;    // longer names are not kept here

  NameVerdictCache();  // a random seed
  explicit NameVerdictCache(std::uint64_t seed);
  ~NameVerdictCache();
  NameVerdictCache(const NameVerdictCache&) = delete;
  NameVerdictCache& operator=(const NameVerdictCache&) = delete;

  // The verdict kept for `name` under these matchers (either may be null), or null. Empties
  // the cache first if the matchers are not the ones its verdicts came from.
  const std::optional<NameVerdict>* find(std::string_view name, const detect::Matcher* matcher,
                                         const detect::Matcher* learned);
  // Keeps `verdict` for `name`, judged by the matchers of the last find(), in place of
  // whatever shared its line.
  void put(std::string_view name, const std::optional<NameVerdict>& verdict);

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct alignas(64) Line {
    std::uint64_t hash = 0;
    std::uint8_t length = 0;
    std::uint8_t state = 0;   // kEmpty, kNoMatch or kMatch
    std::uint8_t recent = 0;  // 1: the way of its set used last (the other one goes first)
    char name[kMaxName] = {};
  };
  static_assert(sizeof(Line) == 64);
  static constexpr std::uint8_t kEmpty = 0;
  static constexpr std::uint8_t kNoMatch = 1;
  static constexpr std::uint8_t kMatch = 2;

  std::uint64_t hash(std::string_view name) const;
  // The first line of the hash's set. Two ways, and four times as many lines as a busy
  // replay's ~520 names: with one way in 1,024 lines they evicted each other on one
  // judgement in nine, with two on one in eighteen (sets that three of them share).
  static std::size_t set_of(std::uint64_t hash) { return (static_cast<std::size_t>(hash >> 53) & (kEntries / 2 - 1)) * 2; }
  void clear();
  static bool holds(const Line& l, std::uint64_t hash, std::string_view name);
  std::size_t way_for(std::size_t set, std::uint64_t hash, std::string_view name) const;

  std::uint64_t seed_;
  // Matcher::id() of the matchers the verdicts came from (0: none).
  std::uint64_t matcher_ = 0;
  std::uint64_t learned_ = 0;
  std::unique_ptr<Line[]> lines_;
  // Verdicts with a match (rare: each one is an alert), by line.
  std::unordered_map<std::size_t, std::optional<NameVerdict>> matches_;
  const std::optional<NameVerdict> none_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace rcptwatch::app
