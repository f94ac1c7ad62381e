// Builds DNS wire messages for the tests, compression pointers written by hand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rcptwatch::dns::test {

inline void put16(std::vector<std::uint8_t>& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xFFFF);
}
inline void put_name(std::vector<std::uint8_t>& b, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}
inline std::vector<std::uint8_t> header(unsigned id, unsigned flags, unsigned qd, unsigned an,
                                        unsigned ns, unsigned ar) {
  std::vector<std::uint8_t> b;
  for (unsigned v : {id, flags, qd, an, ns, ar}) put16(b, v);
  return b;
}

}  // namespace rcptwatch::dns::test
