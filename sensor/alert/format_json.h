// JSON-lines formatting of alerts and statistics events (the schema is a contract with SOC
// parsers: keys are only ever added, never renamed).
#pragma once

#include <string>

#include "alert/alert.h"

namespace rcptwatch::alert {

// Appends one JSON object (no trailing newline) describing `a`.
void format_json(const Alert& a, std::string& out);

}  // namespace rcptwatch::alert
