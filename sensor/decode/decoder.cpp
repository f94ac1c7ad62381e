// Packet decoding: link layer -> IPv4/IPv6 (fragments go to the FragmentReassembler) -> TCP.
// Every read is bounds-checked against the captured bytes; bad input ends in a status and a
// counter. Nothing here allocates unless the packet is an IP fragment.
#include "decode/decoder.h"

#include "decode/fragment_reassembler.h"

namespace rcptwatch::decode {

struct PacketDecoder::FragmentStore {
  FragmentReassembler reassembler;
};

void PacketDecoder::FragmentStoreDeleter::operator()(FragmentStore* store) const { delete store; }

namespace {

// Bounds on attacker-controlled header chains: real traffic uses at most two VLAN tags and a
// handful of IPv6 extension headers.
constexpr int kMaxVlanTags = 8;
constexpr int kMaxIpv6ExtensionHeaders = 16;

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEther8021Q = 0x8100;
constexpr std::uint16_t kEther8021AD = 0x88A8;
constexpr std::uint16_t kEtherQinQLegacy = 0x9100;

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6Esp = 50;
constexpr std::uint8_t kIpv6Ah = 51;
constexpr std::uint8_t kIpv6NoNext = 59;
constexpr std::uint8_t kIpv6DestOpts = 60;

// DLT_RAW has other numbers in files written by old libpcap builds.
constexpr std::uint32_t kDltRawAlt12 = 12;
constexpr std::uint32_t kDltRawAlt14 = 14;

// BSD address families for IPv6 differ by OS: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
constexpr std::uint32_t kAfInet = 2;
constexpr bool is_af_inet6(std::uint32_t af) { return af == 24 || af == 28 || af == 30; }

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         std::uint32_t{p[0]};
}

// What the per-layer functions share for one decode() call.
struct DecodeContext {
  DecodeCounters& counters;
  FragmentReassembler& fragments;
  Timestamp ts;
  TcpSegment& out;
  UdpDatagram* udp_out;  // null: UDP ends as NotTcp (the original contract)
};

// Everything of a segment but its addresses. `tcp` is the TCP header (header_len bytes,
// already checked) and the payload. Always inline: out of line, the fast path below pays a
// call for it.
[[gnu::always_inline]] inline void fill_tcp_fields(Bytes tcp, std::size_t header_len, TcpSegment& out) {
  const std::uint8_t* p = tcp.data();
  out.src_port = be16(p);
  out.dst_port = be16(p + 2);
  out.seq = be32(p + 4);
  out.ack = be32(p + 8);
  out.flags = p[13];
  out.window = be16(p + 14);
  out.payload = tcp.subspan(header_len);
}

[[gnu::always_inline]] inline void fill_segment(Bytes tcp, std::size_t header_len, const IpAddress& src,
                                               const IpAddress& dst, TcpSegment& out) {
  out.src = src;
  out.dst = dst;
  fill_tcp_fields(tcp, header_len, out);
}

DecodeStatus decode_tcp(Bytes tcp, const IpAddress& src, const IpAddress& dst,
                        DecodeContext& ctx) {
  if (tcp.size() < 20) {
    return DecodeStatus::Malformed;
  }
  const std::uint8_t* p = tcp.data();
  const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(p[12] >> 4)} * 4;
  if (header_len < 20 || header_len > tcp.size()) {
    return DecodeStatus::Malformed;
  }
  fill_segment(tcp, header_len, src, dst, ctx.out);
  return DecodeStatus::Tcp;
}

DecodeStatus decode_udp(Bytes udp, const IpAddress& src, const IpAddress& dst,
                        DecodeContext& ctx) {
  if (ctx.udp_out == nullptr) {
    return DecodeStatus::NotTcp;
  }
  if (udp.size() < 8) {
    return DecodeStatus::Malformed;
  }
  const std::uint8_t* p = udp.data();
  const std::size_t length = be16(p + 4);
  // Length 0 is legal only for IPv6 jumbograms, which decode_ipv6 refuses already.
  if (length < 8 || length > udp.size()) {
    return DecodeStatus::Malformed;
  }
  UdpDatagram& out = *ctx.udp_out;
  out.src = src;
  out.dst = dst;
  out.src_port = be16(p);
  out.dst_port = be16(p + 2);
  out.payload = udp.subspan(8, length - 8);
  return DecodeStatus::Udp;
}

// TCP, UDP (when asked for) or another transport.
DecodeStatus decode_transport(std::uint8_t protocol, Bytes payload, const IpAddress& src,
                              const IpAddress& dst, DecodeContext& ctx) {
  if (protocol == kProtoTcp) return decode_tcp(payload, src, dst, ctx);
  if (protocol == kProtoUdp) return decode_udp(payload, src, dst, ctx);
  return DecodeStatus::NotTcp;
}

// How a Fragment header met during the extension walk is treated.
enum class FragmentPolicy : std::uint8_t {
  Reassemble,  // the normal case
  Truncated,   // the capture cut the packet: storing the piece would corrupt the datagram
  Forbidden,   // inside a reassembled payload, where a second Fragment header is nonsense
};

// Walks IPv6 extension headers starting at `next_header` over `rest`, until TCP or something
// that ends the walk.
DecodeStatus walk_ipv6(std::uint8_t next_header, Bytes rest, const IpAddress& src,
                       const IpAddress& dst, FragmentPolicy policy, DecodeContext& ctx);

DecodeStatus decode_ipv6_fragment(Bytes rest, const IpAddress& src, const IpAddress& dst,
                                  bool truncated, DecodeContext& ctx) {
  if (rest.size() < 8) {
    return DecodeStatus::Malformed;
  }
  const std::uint8_t* f = rest.data();
  const std::uint8_t next_header = f[0];
  const std::uint16_t offset_field = be16(f + 2);
  const auto offset = static_cast<std::uint32_t>(offset_field & 0xFFF8u);  // 13 bits, in 8s
  const bool more = (offset_field & 0x1u) != 0;
  Bytes data = rest.subspan(8);
  if (offset == 0 && !more) {
    // RFC 6946 atomic fragment: a whole datagram that merely carries the header.
    return walk_ipv6(next_header, data, src, dst, FragmentPolicy::Forbidden, ctx);
  }
  ++ctx.counters.fragments;
  if (truncated) {
    ++ctx.counters.fragments_dropped;
    return DecodeStatus::Malformed;
  }
  const FragmentKey key{src, dst, be32(f + 4), 0};
  const FragmentResult r =
      ctx.fragments.add(key, FragmentPiece{offset, data, more, next_header}, ctx.ts, ctx.counters);
  switch (r.outcome) {
    case FragmentOutcome::Complete:
      return walk_ipv6(r.first_next_header, r.payload, src, dst, FragmentPolicy::Forbidden, ctx);
    case FragmentOutcome::Malformed:
      return DecodeStatus::Malformed;
    case FragmentOutcome::Held:
    case FragmentOutcome::Dropped:
      break;
  }
  return DecodeStatus::FragmentHeld;
}

DecodeStatus walk_ipv6(std::uint8_t next_header, Bytes rest, const IpAddress& src,
                       const IpAddress& dst, FragmentPolicy policy, DecodeContext& ctx) {
  for (int i = 0; i <= kMaxIpv6ExtensionHeaders; ++i) {
    std::size_t ext_len = 0;
    switch (next_header) {
      case kProtoTcp:
        return decode_tcp(rest, src, dst, ctx);
      case kProtoUdp:
        return decode_udp(rest, src, dst, ctx);
      case kIpv6Esp:     // encrypted: nothing more to read
      case kIpv6NoNext:
        return DecodeStatus::NotTcp;
      case kIpv6Fragment:
        if (policy == FragmentPolicy::Forbidden) {
          return DecodeStatus::Malformed;
        }
        return decode_ipv6_fragment(rest, src, dst, policy == FragmentPolicy::Truncated, ctx);
      case kIpv6HopByHop:
      case kIpv6Routing:
      case kIpv6DestOpts:
        if (rest.size() < 2) {
          return DecodeStatus::Malformed;
        }
        ext_len = (std::size_t{rest[1]} + 1) * 8;
        break;
      case kIpv6Ah:  // RFC 4302: length in 4-byte units, minus 2
        if (rest.size() < 2) {
          return DecodeStatus::Malformed;
        }
        ext_len = (std::size_t{rest[1]} + 2) * 4;
        break;
      default:
        return DecodeStatus::NotTcp;
    }
    if (ext_len > rest.size()) {
      return DecodeStatus::Malformed;
    }
    next_header = rest[0];
    rest = rest.subspan(ext_len);
  }
  return DecodeStatus::Malformed;  // longer header chain than any real stack sends
}

DecodeStatus decode_ipv6(Bytes pkt, DecodeContext& ctx) {
  if (pkt.size() < 40) {
    return DecodeStatus::Malformed;
  }
  const std::uint8_t* p = pkt.data();
  if ((p[0] >> 4) != 6) {
    return DecodeStatus::Malformed;
  }
  ++ctx.counters.ipv6;
  const std::size_t payload_len = be16(p + 4);
  if (payload_len == 0) {  // jumbogram (RFC 2675): never seen on an SMTP path
    return DecodeStatus::Malformed;
  }
  Bytes rest = pkt.subspan(40);
  FragmentPolicy policy = FragmentPolicy::Reassemble;
  if (payload_len < rest.size()) {
    rest = rest.first(payload_len);  // link-layer padding
  } else if (payload_len > rest.size()) {
    ++ctx.counters.truncated;
    policy = FragmentPolicy::Truncated;
  }
  const IpAddress src = IpAddress::v6(p + 8);
  const IpAddress dst = IpAddress::v6(p + 24);
  return walk_ipv6(p[6], rest, src, dst, policy, ctx);
}

DecodeStatus decode_ipv4(Bytes pkt, DecodeContext& ctx) {
  if (pkt.size() < 20) {
    return DecodeStatus::Malformed;
  }
  const std::uint8_t* p = pkt.data();
  if ((p[0] >> 4) != 4) {
    return DecodeStatus::Malformed;
  }
  ++ctx.counters.ipv4;
  const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(p[0] & 0x0F)} * 4;
  const std::size_t total_len = be16(p + 2);
  if (header_len < 20 || header_len > pkt.size() || total_len < header_len) {
    return DecodeStatus::Malformed;
  }
  // Trust the IP length over the frame: Ethernet pads short frames to 60 bytes.
  std::size_t ip_len = total_len;
  if (total_len > pkt.size()) {
    ++ctx.counters.truncated;
    ip_len = pkt.size();
  }
  const Bytes payload = pkt.subspan(header_len, ip_len - header_len);
  const IpAddress src = IpAddress::v4(p + 12);
  const IpAddress dst = IpAddress::v4(p + 16);
  const std::uint8_t protocol = p[9];

  const std::uint16_t frag_field = be16(p + 6);
  const bool more = (frag_field & 0x2000u) != 0;
  const auto offset = static_cast<std::uint32_t>(frag_field & 0x1FFFu) * 8;
  if (!more && offset == 0) {
    return decode_transport(protocol, payload, src, dst, ctx);
  }

  ++ctx.counters.fragments;
  if (total_len > pkt.size()) {
    // A fragment cut by the snaplen would leave a hole nobody can fill.
    ++ctx.counters.fragments_dropped;
    return DecodeStatus::Malformed;
  }
  const FragmentKey key{src, dst, be16(p + 4), protocol};
  const FragmentResult r =
      ctx.fragments.add(key, FragmentPiece{offset, payload, more, protocol}, ctx.ts, ctx.counters);
  switch (r.outcome) {
    case FragmentOutcome::Complete:
      return decode_transport(protocol, r.payload, src, dst, ctx);
    case FragmentOutcome::Malformed:
      return DecodeStatus::Malformed;
    case FragmentOutcome::Held:
    case FragmentOutcome::Dropped:
      break;
  }
  return DecodeStatus::FragmentHeld;
}

// Decides by the version nibble, for link types that carry bare IP.
DecodeStatus decode_raw_ip(Bytes pkt, DecodeContext& ctx) {
  if (pkt.empty()) {
    return DecodeStatus::Malformed;
  }
  switch (pkt[0] >> 4) {
    case 4:
      return decode_ipv4(pkt, ctx);
    case 6:
      return decode_ipv6(pkt, ctx);
    default:
      return DecodeStatus::Malformed;
  }
}

// Dispatches on an EtherType, first peeling any 802.1Q / 802.1ad tags (libpcap also re-inserts
// tags after SLL headers, so cooked captures come through here too).
DecodeStatus decode_ethertype(std::uint16_t ethertype, Bytes rest, DecodeContext& ctx) {
  int tags = 0;
  while (ethertype == kEther8021Q || ethertype == kEther8021AD || ethertype == kEtherQinQLegacy) {
    if (++tags > kMaxVlanTags || rest.size() < 4) {
      return DecodeStatus::Malformed;
    }
    ++ctx.counters.vlan_tags;
    ethertype = be16(rest.data() + 2);
    rest = rest.subspan(4);
  }
  switch (ethertype) {
    case kEtherIpv4:
      return decode_ipv4(rest, ctx);
    case kEtherIpv6:
      return decode_ipv6(rest, ctx);
    default:
      return DecodeStatus::NotIp;  // ARP, LLDP, 802.3 length fields, ...
  }
}

DecodeStatus decode_bsd_family(std::uint32_t family, Bytes rest, DecodeContext& ctx) {
  if (family == kAfInet) {
    return decode_ipv4(rest, ctx);
  }
  if (is_af_inet6(family)) {
    return decode_ipv6(rest, ctx);
  }
  return DecodeStatus::NotIp;
}

DecodeStatus decode_link(std::uint32_t link_type, Bytes frame, DecodeContext& ctx) {
  switch (link_type) {
    case static_cast<std::uint32_t>(LinkType::Ethernet):
      if (frame.size() < 14) {
        return DecodeStatus::Malformed;
      }
      return decode_ethertype(be16(frame.data() + 12), frame.subspan(14), ctx);
    case static_cast<std::uint32_t>(LinkType::LinuxSll):
      if (frame.size() < 16) {
        return DecodeStatus::Malformed;
      }
      return decode_ethertype(be16(frame.data() + 14), frame.subspan(16), ctx);
    case static_cast<std::uint32_t>(LinkType::LinuxSll2):
      if (frame.size() < 20) {
        return DecodeStatus::Malformed;
      }
      return decode_ethertype(be16(frame.data()), frame.subspan(20), ctx);
    case static_cast<std::uint32_t>(LinkType::Raw):
    case kDltRawAlt12:
    case kDltRawAlt14:
      return decode_raw_ip(frame, ctx);
    case static_cast<std::uint32_t>(LinkType::Ipv4):
      return decode_ipv4(frame, ctx);
    case static_cast<std::uint32_t>(LinkType::Ipv6):
      return decode_ipv6(frame, ctx);
    case static_cast<std::uint32_t>(LinkType::Null): {
      if (frame.size() < 4) {
        return DecodeStatus::Malformed;
      }
      // Host order of the capturing machine, which may not be ours: the small AF values are
      // unambiguous in either order.
      const std::uint32_t le = le32(frame.data());
      const std::uint32_t family = le <= 0xFFFF ? le : be32(frame.data());
      return decode_bsd_family(family, frame.subspan(4), ctx);
    }
    case static_cast<std::uint32_t>(LinkType::Loop):
      if (frame.size() < 4) {
        return DecodeStatus::Malformed;
      }
      return decode_bsd_family(be32(frame.data()), frame.subspan(4), ctx);
    default:
      return DecodeStatus::UnsupportedLink;
  }
}

// The common case, untagged Ethernet / IPv4 without options or fragmentation / TCP, wholly
// captured, in one straight run of loads and compares. It accepts exactly the frames the
// general path would turn into a segment without touching any counter but packets, ipv4 and
// tcp, and fills `out` as decode_tcp does; anything else (tags, options, fragments, another
// protocol, a short or cut frame, a bad length) returns false for the general path to decode,
// so every verdict and counter stays the general path's. The tests run every decoder case
// with and without it (PacketDecoder::set_fast_path).
bool decode_ethernet_ipv4_tcp(Bytes frame, TcpSegment& out) {
  constexpr std::size_t kEth = 14;
  constexpr std::size_t kIp = 20;
  if (frame.size() < kEth + kIp + 20) return false;
  const std::uint8_t* e = frame.data();
  const std::uint8_t* ip = e + kEth;
  // EtherType IPv4; version 4 with a 20-byte header; neither MF nor a fragment offset; TCP.
  if (be16(e + 12) != kEtherIpv4 || ip[0] != 0x45 || (be16(ip + 6) & 0x3FFFu) != 0 || ip[9] != kProtoTcp) {
    return false;
  }
  const std::size_t total_len = be16(ip + 2);
  if (total_len > frame.size() - kEth) return false;  // cut by the snaplen: counted there
  const std::uint8_t* tcp = ip + kIp;
  const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(tcp[12] >> 4)} * 4;
  if (total_len < kIp + 20 || header_len < 20 || header_len > total_len - kIp) return false;
  out.src.assign_v4(ip + 12);
  out.dst.assign_v4(ip + 16);
  fill_tcp_fields(Bytes(tcp, total_len - kIp), header_len, out);
  return true;
}

}  // namespace

PacketDecoder::PacketDecoder(DecoderLimits limits)
    : limits_(limits),
      fragments_(new FragmentStore{FragmentReassembler(
          FragmentLimits{limits.max_fragment_datagrams, limits.max_fragment_bytes,
                         limits.fragment_timeout_usec, limits.max_fragments_per_datagram})}) {}

PacketDecoder::~PacketDecoder() = default;

// The fast path is tried here, outside the flattened general path, so that a frame it takes
// does not pay that function's prologue (it saves every callee-saved register).
bool PacketDecoder::try_fast_path(std::uint32_t link_type, Bytes frame, TcpSegment& out) {
  if (!fast_path_ || link_type != static_cast<std::uint32_t>(LinkType::Ethernet) ||
      fragments_->reassembler.datagrams_held() != 0 || !decode_ethernet_ipv4_tcp(frame, out)) {
    return false;
  }
  ++counters_.packets;
  ++counters_.ipv4;
  ++counters_.tcp;
  return true;
}

DecodeStatus PacketDecoder::decode(std::uint32_t link_type, Bytes frame, Timestamp ts,
                                   TcpSegment& out) {
  if (try_fast_path(link_type, frame, out)) return DecodeStatus::Tcp;
  return decode_impl(link_type, frame, ts, out, nullptr);
}

DecodeStatus PacketDecoder::decode(std::uint32_t link_type, Bytes frame, Timestamp ts,
                                   TcpSegment& out, UdpDatagram& udp_out) {
  if (try_fast_path(link_type, frame, out)) return DecodeStatus::Tcp;
  return decode_impl(link_type, frame, ts, out, &udp_out);
}

// Flattened: the layer functions above are inlined into this one call per packet, so an
// Ethernet/IPv4/TCP frame is decoded in one straight run instead of a chain of out-of-line
// calls that pass the remaining bytes and the context along at each layer.
[[gnu::flatten]] DecodeStatus PacketDecoder::decode_impl(std::uint32_t link_type, Bytes frame,
                                                         Timestamp ts, TcpSegment& out,
                                                         UdpDatagram* udp_out) {
  ++counters_.packets;
  FragmentReassembler& reassembler = fragments_->reassembler;
  if (reassembler.datagrams_held() != 0) {
    // Expire on every packet, not only on fragments, so stale datagrams free their memory
    // and show up in the counters even when no further fragment arrives.
    reassembler.expire(ts, counters_);
  }
  DecodeContext ctx{counters_, reassembler, ts, out, udp_out};
  const DecodeStatus status = decode_link(link_type, frame, ctx);
  switch (status) {
    case DecodeStatus::Tcp:
      ++counters_.tcp;
      break;
    case DecodeStatus::NotTcp:
      ++counters_.not_tcp;
      break;
    case DecodeStatus::NotIp:
      ++counters_.not_ip;
      break;
    case DecodeStatus::UnsupportedLink:
      ++counters_.unsupported_link;
      break;
    case DecodeStatus::Malformed:
      ++counters_.malformed;
      break;
    case DecodeStatus::FragmentHeld:
      ++counters_.fragments_held;
      break;
    case DecodeStatus::Udp:
      ++counters_.udp;
      break;
  }
  return status;
}

}  // namespace rcptwatch::decode
