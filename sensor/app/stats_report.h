// Stats events across workers and the one-line stats log: merging several Pipelines' JSON
// `stats` events into one (counters summed), and the summary an operator reads in the log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rcptwatch::app {

// Sums the counters of several `stats` events of the same shape (one per worker); objects
// are joined key by key, strings and the timestamp come from the first event. Counters that
// every worker holds in full (the MX addresses learned from DNS, which all workers learn)
// take the largest value instead of the sum.
std::string merge_stats_events(const std::vector<std::string>& events);

// Adds the members of the JSON object `extra` (outputs, sources, workers) to the "stats"
// object of `event`.
std::string add_stats_sections(const std::string& event, const std::string& extra);

// "stats: packets=.. bytes=.. drops=.. flows=.. ..." for the log; names each source's drops
// and the alerts per rule.
std::string stats_log_line(std::string_view event);

}  // namespace rcptwatch::app
