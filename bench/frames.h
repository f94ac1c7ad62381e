// Builds Ethernet/IPv4/TCP frames in memory for the benchmarks that drive the pipeline
// without a capture file (checksums left zero: the decoder does not verify them).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace rcptwatch::bench {

struct Endpoints {
  std::array<std::uint8_t, 4> client{10, 0, 0, 1};
  std::array<std::uint8_t, 4> server{192, 0, 2, 1};
  std::uint16_t client_port = 40000;
  std::uint16_t server_port = 25;
};

inline void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

inline void put32(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
  put16(f, at, v >> 16);
  put16(f, at + 2, v & 0xFFFF);
}

inline std::vector<std::uint8_t> tcp_frame(const Endpoints& e, bool to_server, std::uint32_t seq,
                                           std::uint32_t ack, std::uint8_t flags,
                                           std::string_view payload) {
  std::vector<std::uint8_t> f(54 + payload.size(), 0);
  f[12] = 0x08;  // IPv4
  f[14] = 0x45;
  put16(f, 16, static_cast<std::uint32_t>(40 + payload.size()));
  f[22] = 64;
  f[23] = 6;
  std::memcpy(&f[26], (to_server ? e.client : e.server).data(), 4);
  std::memcpy(&f[30], (to_server ? e.server : e.client).data(), 4);
  put16(f, 34, to_server ? e.client_port : e.server_port);
  put16(f, 36, to_server ? e.server_port : e.client_port);
  put32(f, 38, seq);
  put32(f, 42, ack);
  f[46] = 0x50;
  f[47] = flags;
  put16(f, 48, 65535);
  std::memcpy(&f[54], payload.data(), payload.size());
  return f;
}

}  // namespace rcptwatch::bench
