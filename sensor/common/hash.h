// Small hashing helpers shared by the stages that hash keys from the network.
#pragma once

#include <cstdint>

namespace rcptwatch {

// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
constexpr std::uint64_t fmix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// FNV-1a, fed byte by byte: for keys that must hash the same in every process and version
// (the correspondent store keeps these hashes on disk; worker routing must be reproducible).
// Not for tables keyed by what the network sends (no seed): those use fmix64 with a seed.
class Fnv1a {
 public:
  constexpr void add(std::uint8_t byte) { h_ = (h_ ^ byte) * 0x100000001b3ULL; }
  constexpr std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace rcptwatch
