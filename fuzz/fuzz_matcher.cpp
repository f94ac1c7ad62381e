// libFuzzer entry point for the lookalike decision on hostile recipient domains: match(),
// match_uncached() and explain() over the shipped packs (with extra combosquat keywords and a
// distance-2 rule), which must agree with each other and never crash, whatever the bytes
// (invalid UTF-8, punycode, runs of dots and hyphens, 253+ characters).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "detect/matcher.h"
#include "detect/rules.h"

namespace {

const rcptwatch::detect::Matcher& matcher() {
  using namespace rcptwatch::detect;
  static const std::unique_ptr<const Matcher> m = [] {
    const std::string dir = RCPTWATCH_SOURCE_DIR "/rules/";
    auto packs = load_rule_files({dir + "default.rules", dir + "governments.rules", dir + "example-company.rules"});
    if (!packs) std::abort();
    std::string text = "keywords intranet staff-portal\nprotect rolls-royce.com id=990001 distance=2\n"
                       "protect bücher.de id=990002\nallow login-nato.int\n";
    for (const ProtectRule& r : (*packs)->rules()) {
      if (r.kind == RuleKind::Protect) text += "protect " + r.domain + "\n";
    }
    auto rules = parse_rules(text, "fuzz.rules");
    if (!rules) std::abort();
    return std::make_unique<const Matcher>(*rules, 256);
  }();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy in its own allocation, so ASan sees any read past the end.
  const std::string domain(reinterpret_cast<const char*>(data), size);
  const auto& m = matcher();
  const auto cached = m.match(domain);
  const auto uncached = m.match_uncached(domain);
  if (cached.has_value() != uncached.has_value()) __builtin_trap();
  if (cached && (cached->technique != uncached->technique || cached->protected_domain != uncached->protected_domain ||
                 cached->distance != uncached->distance)) {
    __builtin_trap();
  }
  const auto x = m.explain(domain);
  // explain() says Match exactly when match() finds one.
  if ((x.verdict == rcptwatch::detect::Explanation::Verdict::Match) != uncached.has_value()) __builtin_trap();
  (void)x.summary();
  return 0;
}
