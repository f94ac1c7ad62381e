// `rcptwatch state ...`: inspect and correct what --learn learned (show, export, forget).
#pragma once

#include <iosfwd>

namespace rcptwatch::app {

// argv[0] is "state", argv[1] the subcommand ("show", "export", "forget").
// Exit status: 0 ok; 1 forget: a domain was not in the store; 2 bad usage, or a store that is
// missing, unreadable or damaged (one line naming the file and the reason).
int state_command_main(int argc, const char* const* argv);
// Same, writing results to `out` and errors to `err` (tests).
int state_command_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace rcptwatch::app
