// Direction classification and the --judge-directions list; see direction.h.
#include "fleet/direction.h"

namespace rcptwatch::fleet {

namespace {
constexpr Direction kAll[] = {Direction::Unknown, Direction::Outbound, Direction::Inbound,
                              Direction::Internal, Direction::External};
}

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::Unknown: return "unknown";
    case Direction::Outbound: return "outbound";
    case Direction::Inbound: return "inbound";
    case Direction::Internal: return "internal";
    case Direction::External: return "external";
  }
  return "unknown";
}

Direction classify_direction(const CidrSet& home, const IpAddress& client, const IpAddress& server) {
  if (home.empty()) return Direction::Unknown;
  const bool client_home = home.contains(client);
  const bool server_home = home.contains(server);
  if (client_home && server_home) return Direction::Internal;
  if (client_home) return Direction::Outbound;
  if (server_home) return Direction::Inbound;
  return Direction::External;
}

std::string DirectionSet::to_string() const {
  std::string out;
  for (Direction d : kAll) {
    if (!contains(d)) continue;
    if (!out.empty()) out += ',';
    out += fleet::to_string(d);
  }
  return out;
}

tl::expected<DirectionSet, std::string> parse_direction_list(std::string_view list) {
  DirectionSet set;
  std::size_t start = 0;
  for (;;) {
    const auto comma = list.find(',', start);
    std::string_view item =
        list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    bool known = false;
    if (item == "all") {
      set = DirectionSet::all();
      known = true;
    }
    for (Direction d : kAll) {
      if (item == fleet::to_string(d)) {
        set.add(d);
        known = true;
      }
    }
    if (!known) {
      return tl::unexpected("'" + std::string(item) +
                            "' is not a direction (outbound, inbound, internal, external, unknown, all)");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

}  // namespace rcptwatch::fleet
