// libFuzzer entry point for the rule-file parser (detect::parse_rules) and, for rule sets it
// accepts, the matcher built from them. Inputs that mention `include` are skipped: they would
// make the parser read arbitrary files of this machine (/dev/zero, /proc/...), which tests the
// file system rather than the parser; the include logic is covered by the unit tests.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "detect/matcher.h"
#include "detect/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rcptwatch::detect;
  if (size > 16384) return 0;  // rule files are small; larger inputs only slow the search down
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("include") != std::string::npos) return 0;

  auto rules = parse_rules(text, "/nonexistent-fuzz-dir/fuzz.rules");
  if (!rules) {
    if (rules.error().empty()) __builtin_trap();  // refused without saying why
    for (const auto& e : rules.error()) (void)e.to_string();
    return 0;
  }
  // An accepted set must be usable: build the matcher and ask it about a few names.
  Matcher matcher(*rules, 64);
  for (std::string_view d : {"army.ml", "nato.int", "example.com", "xn--80ak6aa92e.com", ""}) {
    (void)matcher.match(d);
  }
  return 0;
}
