// `rcptwatch rules ...`: tools for people writing rule packs (check, explain, variants).
#pragma once

#include <iosfwd>

namespace rcptwatch::app {

// argv[0] is "rules", argv[1] the subcommand ("check", "explain", "variants").
// Exit status: 0 ok (explain: no domain matched); 1 explain: at least one domain matched;
// 2 bad usage, unreadable or invalid rules.
int rules_command_main(int argc, const char* const* argv);
// Same, writing results to `out` and errors to `err` (tests).
int rules_command_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace rcptwatch::app
