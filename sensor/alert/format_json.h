// JSON-lines formatting of alerts and statistics events (the schema is a contract with SOC
// parsers: keys are only ever added, never renamed).
#pragma once

#include <string>

#include <string_view>

#include "alert/alert.h"
#include "alert/json_writer.h"

namespace rcptwatch::alert {

// Appends one JSON object (no trailing newline) describing `a`.
void format_json(const Alert& a, std::string& out);

// The fleet identity every event carries (alerts and smtp events alike): sensor_name,
// in_iface, community_id and network.direction, in Suricata EVE / ECS naming.
void write_identity_fields(JsonWriter& w, std::string_view sensor_name, std::string_view in_iface,
                           std::string_view community_id, std::string_view direction);

}  // namespace rcptwatch::alert
