// Community ID v1 flow hashes (https://github.com/corelight/community-id-spec), as Zeek and
// Suricata emit them, so the SOC can join rcptwatch events with its other sensors' records.
#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"

namespace rcptwatch::fleet {

constexpr std::uint8_t kProtoTcp = 6;

// "1:" + base64(SHA-1(seed, ordered endpoints, protocol, ports)) for a port-based protocol
// (TCP, UDP, SCTP). The endpoints are ordered as the spec says (smaller address first, the
// port breaking ties), so both directions of a flow give the same ID. Both addresses must be
// of the same family.
std::string community_id_v1(std::uint8_t proto, const IpAddress& src, const IpAddress& dst,
                            std::uint16_t src_port, std::uint16_t dst_port, std::uint16_t seed = 0);

}  // namespace rcptwatch::fleet
