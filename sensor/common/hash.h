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

}  // namespace rcptwatch
