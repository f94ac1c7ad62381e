// Hand-built frames for the decoder tests: small byte writers for each header we decode, so a
// test states the fields it cares about and nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace rcptwatch::decode::testing {

using Buf = std::vector<std::uint8_t>;

struct ByteWriter {
  Buf b;

  ByteWriter& u8(std::uint32_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  ByteWriter& be16(std::uint32_t v) { return u8(v >> 8).u8(v); }
  ByteWriter& be32(std::uint32_t v) { return be16(v >> 16).be16(v); }
  ByteWriter& le32(std::uint32_t v) { return u8(v).u8(v >> 8).u8(v >> 16).u8(v >> 24); }
  ByteWriter& bytes(Bytes data) {
    b.insert(b.end(), data.begin(), data.end());
    return *this;
  }
  ByteWriter& fill(std::size_t n, std::uint8_t v) {
    b.insert(b.end(), n, v);
    return *this;
  }
};

inline Buf to_buf(std::string_view s) { return Buf(s.begin(), s.end()); }
inline Bytes view(const Buf& b) { return Bytes(b.data(), b.size()); }
inline Buf concat(std::initializer_list<Bytes> parts) {
  Buf out;
  for (Bytes p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

struct TcpSpec {
  std::uint16_t src_port = 40000;
  std::uint16_t dst_port = 25;
  std::uint32_t seq = 0x01020304;
  std::uint32_t ack = 0xA0B0C0D0;
  std::uint8_t flags = 0x18;  // PSH|ACK
  std::uint16_t window = 0xFFEE;
  std::size_t option_bytes = 0;  // multiple of 4; filled with NOPs
  std::optional<std::uint8_t> data_offset_override;
  std::string_view payload = "RCPT TO:<a@army.ml>\r\n";
};

inline Buf tcp(const TcpSpec& s = {}) {
  ByteWriter w;
  const auto doff = s.data_offset_override.value_or(static_cast<std::uint8_t>(5 + s.option_bytes / 4));
  w.be16(s.src_port).be16(s.dst_port).be32(s.seq).be32(s.ack);
  w.u8(static_cast<std::uint32_t>(doff) << 4).u8(s.flags).be16(s.window).be16(0).be16(0);
  w.fill(s.option_bytes, 0x01);
  w.bytes(Bytes(reinterpret_cast<const std::uint8_t*>(s.payload.data()), s.payload.size()));
  return w.b;
}

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint8_t, 16>;
inline constexpr V4 kV4Src{192, 0, 2, 1};
inline constexpr V4 kV4Dst{198, 51, 100, 2};
inline constexpr V6 kV6Src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr V6 kV6Dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};

struct Ipv4Spec {
  V4 src = kV4Src;
  V4 dst = kV4Dst;
  std::uint8_t protocol = 6;
  std::uint16_t id = 0x1234;
  bool more_fragments = false;
  bool dont_fragment = false;
  std::uint16_t offset_units = 0;  // fragment offset in 8-byte units
  std::size_t option_bytes = 0;    // multiple of 4
  std::optional<std::uint8_t> version_override;
  std::optional<std::uint8_t> ihl_override;
  std::optional<std::uint16_t> total_length_override;
};

inline Buf ipv4(const Ipv4Spec& s, Bytes payload) {
  ByteWriter w;
  const auto ihl = s.ihl_override.value_or(static_cast<std::uint8_t>(5 + s.option_bytes / 4));
  const auto version = s.version_override.value_or(4);
  const auto total = s.total_length_override.value_or(
      static_cast<std::uint16_t>(20 + s.option_bytes + payload.size()));
  w.u8(static_cast<std::uint32_t>(version << 4 | (ihl & 0x0F))).u8(0).be16(total).be16(s.id);
  w.be16((s.dont_fragment ? 0x4000u : 0u) | (s.more_fragments ? 0x2000u : 0u) |
         (s.offset_units & 0x1FFFu));
  w.u8(64).u8(s.protocol).be16(0);
  w.bytes(s.src).bytes(s.dst);
  w.fill(s.option_bytes, 0x01);  // NOP options
  w.bytes(payload);
  return w.b;
}

struct Ipv6Spec {
  V6 src = kV6Src;
  V6 dst = kV6Dst;
  std::uint8_t next_header = 6;
  std::optional<std::uint16_t> payload_length_override;
  std::optional<std::uint8_t> version_override;
};

inline Buf ipv6(const Ipv6Spec& s, Bytes payload) {
  ByteWriter w;
  const auto version = s.version_override.value_or(6);
  w.u8(static_cast<std::uint32_t>(version) << 4).u8(0).be16(0);
  w.be16(s.payload_length_override.value_or(static_cast<std::uint16_t>(payload.size())));
  w.u8(s.next_header).u8(64);
  w.bytes(s.src).bytes(s.dst);
  w.bytes(payload);
  return w.b;
}

// Hop-by-Hop, Routing or Destination Options: `len_units` is the header's own length field.
inline Buf ipv6_ext(std::uint8_t next_header, std::uint8_t len_units = 0) {
  ByteWriter w;
  w.u8(next_header).u8(len_units).fill((std::size_t{len_units} + 1) * 8 - 2, 0);
  return w.b;
}

inline Buf ipv6_ah(std::uint8_t next_header, std::uint8_t payload_len_field = 4) {
  ByteWriter w;
  w.u8(next_header).u8(payload_len_field).fill((std::size_t{payload_len_field} + 2) * 4 - 2, 0xAA);
  return w.b;
}

inline Buf ipv6_frag_header(std::uint8_t next_header, std::uint16_t offset_units, bool more,
                            std::uint32_t id) {
  ByteWriter w;
  w.u8(next_header).u8(0).be16(static_cast<std::uint32_t>(offset_units << 3) | (more ? 1u : 0u));
  w.be32(id);
  return w.b;
}

struct VlanTag {
  std::uint16_t tpid;
  std::uint16_t tci;
};

inline Buf ethernet(std::uint16_t ethertype, Bytes payload, std::vector<VlanTag> tags = {}) {
  ByteWriter w;
  w.bytes(std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 0, 1});
  w.bytes(std::array<std::uint8_t, 6>{0x02, 0, 0, 0, 0, 2});
  for (const VlanTag& t : tags) {
    w.be16(t.tpid).be16(t.tci);
  }
  w.be16(ethertype).bytes(payload);
  return w.b;
}

inline Buf sll(std::uint16_t protocol, Bytes payload) {
  ByteWriter w;
  w.be16(0).be16(1).be16(6);  // packet type "to us", ARPHRD_ETHER, address length 6
  w.bytes(std::array<std::uint8_t, 8>{0x02, 0, 0, 0, 0, 1, 0, 0});
  w.be16(protocol).bytes(payload);
  return w.b;
}

inline Buf sll2(std::uint16_t protocol, Bytes payload) {
  ByteWriter w;
  w.be16(protocol).be16(0).be32(3).be16(1).u8(0).u8(6);  // ifindex 3, ARPHRD_ETHER
  w.bytes(std::array<std::uint8_t, 8>{0x02, 0, 0, 0, 0, 1, 0, 0});
  w.bytes(payload);
  return w.b;
}

inline Buf null_le(std::uint32_t family, Bytes payload) {
  ByteWriter w;
  w.le32(family).bytes(payload);
  return w.b;
}

inline Buf null_be(std::uint32_t family, Bytes payload) {
  ByteWriter w;
  w.be32(family).bytes(payload);
  return w.b;
}

}  // namespace rcptwatch::decode::testing
