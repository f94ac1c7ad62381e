// Packet decoder: link layer -> IPv4/IPv6 (with fragment reassembly) -> a TcpSegment view.
// Bad or uninteresting packets are counted, never thrown about or logged.
#pragma once

#include <cstdint>
#include <memory>

#include "common/types.h"

namespace rcptwatch::decode {

// libpcap DLT_/LINKTYPE_ values the decoder understands.
enum class LinkType : std::uint32_t {
  Null = 0,        // BSD loopback, host-order 4-byte address family
  Ethernet = 1,
  Raw = 101,       // LINKTYPE_RAW (DLT_RAW is 12 or 14 on some systems; both accepted)
  Loop = 108,      // OpenBSD loopback, network-order address family
  LinuxSll = 113,
  Ipv4 = 228,
  Ipv6 = 229,
  LinuxSll2 = 276,
};

namespace tcp_flag {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flag

// A decoded TCP segment (filled only when decode() returns DecodeStatus::Tcp). `payload` points into the frame passed to decode(), or into the
// decoder's fragment buffer; it is valid until the next call to decode().
struct TcpSegment {
  IpAddress src;
  IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  Bytes payload;

  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
};

// A decoded UDP datagram (filled only when decode() is given a UdpDatagram and returns
// DecodeStatus::Udp). Same lifetime rules as TcpSegment::payload.
struct UdpDatagram {
  IpAddress src;
  IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Bytes payload;
};

enum class DecodeStatus : std::uint8_t {
  Tcp,              // `out` holds a segment
  NotTcp,           // valid IP packet of another protocol (UDP when no UdpDatagram was
                    // passed, ICMP, ...)
  NotIp,            // valid frame that does not carry IP (ARP, LLDP, ...)
  UnsupportedLink,  // link type we do not decode
  Malformed,        // truncated or inconsistent headers
  FragmentHeld,     // an IP fragment was taken by the reassembler (stored, or dropped over a
                    // cap and counted in fragments_dropped); no datagram complete yet
  Udp,              // `udp_out` holds a datagram (only with the UdpDatagram overload)
};

struct DecodeCounters {
  std::uint64_t packets = 0;
  std::uint64_t tcp = 0;
  std::uint64_t not_tcp = 0;
  std::uint64_t not_ip = 0;
  std::uint64_t unsupported_link = 0;
  std::uint64_t malformed = 0;
  std::uint64_t ipv4 = 0;
  std::uint64_t ipv6 = 0;
  std::uint64_t vlan_tags = 0;
  std::uint64_t fragments = 0;            // fragments received
  std::uint64_t fragments_reassembled = 0;  // datagrams completed from fragments
  std::uint64_t fragments_dropped = 0;     // timed out, over a cap, or overlapping badly
  // Every packet ends in exactly one of: tcp, not_tcp, not_ip, unsupported_link, malformed,
  // fragments_held (decode() returned FragmentHeld), udp (decode() returned Udp).
  std::uint64_t fragments_held = 0;
  std::uint64_t udp = 0;
  std::uint64_t fragments_overlap = 0;          // fragments that overlapped bytes already held
                                                // (first-received bytes are kept)
  std::uint64_t fragment_datagrams_expired = 0;  // datagrams discarded by the timeout
  std::uint64_t truncated = 0;  // IP length beyond the captured bytes (snaplen): payload cut
};

struct DecoderLimits {
  std::uint32_t max_fragment_datagrams = 4096;        // datagrams under reassembly at once
  std::uint32_t max_fragment_bytes = 16u << 20;        // bytes held by all of them
  std::int64_t fragment_timeout_usec = 30'000'000;     // RFC 791 suggests 15 s; Linux uses 30 s
  std::uint32_t max_fragments_per_datagram = 2048;     // bounds the work per datagram
};

class PacketDecoder {
 public:
  explicit PacketDecoder(DecoderLimits limits = {});
  ~PacketDecoder();
  PacketDecoder(const PacketDecoder&) = delete;
  PacketDecoder& operator=(const PacketDecoder&) = delete;

  // Decodes one captured frame of the given libpcap link type. Allocates nothing unless the
  // frame is an IP fragment. `out` is written only when the result is DecodeStatus::Tcp.
  DecodeStatus decode(std::uint32_t link_type, Bytes frame, Timestamp ts, TcpSegment& out);
  // The same, and UDP datagrams are decoded into `udp_out` (DecodeStatus::Udp) instead of
  // ending as NotTcp. A UDP header whose length disagrees with the IP payload is Malformed.
  DecodeStatus decode(std::uint32_t link_type, Bytes frame, Timestamp ts, TcpSegment& out,
                      UdpDatagram& udp_out);

  const DecodeCounters& counters() const { return counters_; }
  // The Ethernet/IPv4/TCP fast path is on by default; tests turn it off to check that it
  // decodes and counts exactly as the general path does.
  void set_fast_path(bool on) { fast_path_ = on; }

 private:
  struct FragmentStore;
  bool try_fast_path(std::uint32_t link_type, Bytes frame, TcpSegment& out);
  DecodeStatus decode_impl(std::uint32_t link_type, Bytes frame, Timestamp ts, TcpSegment& out,
                           UdpDatagram* udp_out);
  DecodeCounters counters_;
  DecoderLimits limits_;
  bool fast_path_ = true;
  // Fragment reassembly state lives behind a pointer so this header stays small.
  struct FragmentStoreDeleter { void operator()(FragmentStore*) const; };
  std::unique_ptr<FragmentStore, FragmentStoreDeleter> fragments_;
};

}  // namespace rcptwatch::decode
