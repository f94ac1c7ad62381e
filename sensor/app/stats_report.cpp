// Merging per-worker stats events and summarising one in a log line (not on the packet path).
#include "app/stats_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace rcptwatch::app {
namespace {

using Json = nlohmann::ordered_json;

bool held_by_every_worker(std::string_view key) {
  constexpr std::array<std::string_view, 4> kKeys{"mx_hosts_learned", "mx_addresses_learned",
                                                  "mx_expired", "mx_evicted_cap"};
  return std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end();
}

void merge_into(Json& into, const Json& from, std::string_view key) {
  if (into.is_object() && from.is_object()) {
    for (const auto& [k, v] : from.items()) {
      if (into.contains(k)) {
        merge_into(into[k], v, k);
      } else {
        into[k] = v;
      }
    }
  } else if (into.is_number_unsigned() && from.is_number_unsigned()) {
    const auto a = into.get<std::uint64_t>();
    const auto b = from.get<std::uint64_t>();
    into = held_by_every_worker(key) ? std::max(a, b) : a + b;
  } else if (into.is_number_integer() && from.is_number_integer()) {
    into = into.get<std::int64_t>() + from.get<std::int64_t>();
  } else if (into.is_boolean() && from.is_boolean()) {
    into = into.get<bool>() || from.get<bool>();
  }
  // strings (timestamp, names): the first event's
}

std::uint64_t number_at(const Json& j, std::initializer_list<const char*> path) {
  const Json* at = &j;
  for (const char* k : path) {
    if (!at->is_object() || !at->contains(k)) return 0;
    at = &(*at)[k];
  }
  return at->is_number_unsigned() ? at->get<std::uint64_t>() : 0;
}

}  // namespace

std::string merge_stats_events(const std::vector<std::string>& events) {
  if (events.empty()) return {};
  Json merged = Json::parse(events.front());
  for (std::size_t i = 1; i < events.size(); ++i) merge_into(merged, Json::parse(events[i]), "");
  return merged.dump();
}

std::string add_stats_sections(const std::string& event, const std::string& extra) {
  Json e = Json::parse(event);
  const Json sections = Json::parse(extra);
  for (const auto& [k, v] : sections.items()) e["stats"][k] = v;
  return e.dump();
}

std::string stats_log_line(std::string_view event) {
  const Json e = Json::parse(event, nullptr, false);
  if (e.is_discarded() || !e.contains("stats")) return "stats: (unreadable stats event)";
  const Json& s = e["stats"];
  std::string line = "stats: packets=" + std::to_string(number_at(s, {"capture", "packets"})) +
                     " bytes=" + std::to_string(number_at(s, {"capture", "bytes"})) +
                     " drops=" + std::to_string(number_at(s, {"capture", "kernel_drops"}) +
                                                number_at(s, {"capture", "interface_drops"}));
  if (s.contains("sources") && s["sources"].is_object()) {
    line += " (";
    bool first = true;
    for (const auto& [name, src] : s["sources"].items()) {
      line += (first ? "" : " ") + name + ":" +
              std::to_string(number_at(src, {"kernel_drops"}) + number_at(src, {"interface_drops"}));
      first = false;
    }
    line += ")";
  }
  if (s.contains("workers")) line += " worker_drops=" + std::to_string(number_at(s, {"workers", "ring_full_drops"}));
  line += " flows=" + std::to_string(number_at(s, {"tcp", "flows_active"})) +
          " flows_created=" + std::to_string(number_at(s, {"tcp", "flows_created"})) +
          " gaps=" + std::to_string(number_at(s, {"tcp", "gaps"})) +
          " sessions=" + std::to_string(number_at(s, {"smtp", "sessions"})) +
          " encrypted_sessions=" + std::to_string(number_at(s, {"smtp", "tls_sessions"})) +
          " recipients=" + std::to_string(number_at(s, {"smtp", "recipients"})) +
          " alerts=" + std::to_string(number_at(s, {"detect", "alerts"}));
  if (s.contains("detect") && s["detect"].contains("alerts_by_rule")) {
    line += " by_rule={";
    bool first = true;
    for (const auto& [rule, n] : s["detect"]["alerts_by_rule"].items()) {
      line += (first ? "" : ",") + rule + ":" + std::to_string(n.is_number_unsigned() ? n.get<std::uint64_t>() : 0);
      first = false;
    }
    line += "}";
  }
  return line;
}

}  // namespace rcptwatch::app
