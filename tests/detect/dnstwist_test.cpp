// Differential test against dnstwist: every variant every fuzzer emits for 32 protected domains
// of different shapes (committed fixtures, scripts/make-dnstwist-fixtures) must be reported as a
// lookalike of that domain, typos and visual twins as well as dictionary words (combosquat) and
// swapped suffixes (tld-swap). Recall is printed per fuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "detect/domain_name.h"
#include "detect/matcher.h"

namespace rcptwatch::detect {
namespace {

const std::string kFixtures = std::string(RCPTWATCH_SOURCE_DIR) + "/tests/detect/fixtures";

// Every fuzzer of dnstwist 20221213 (scripts/make-dnstwist-fixtures): 100% recall required.
const std::set<std::string> kRequired = {"addition",    "bitsquatting", "cyrillic",   "dictionary",    "homoglyph",
                                         "hyphenation", "insertion",    "omission",   "repetition",    "replacement",
                                         "subdomain",   "tld-swap",     "transposition", "vowel-swap", "various"};

std::vector<std::string> protected_domains() {
  std::ifstream in(kFixtures + "/dnstwist-domains.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

struct Tally {
  std::size_t total = 0;
  std::size_t matched = 0;
  std::vector<std::string> missed;
};

TEST(Dnstwist, EveryTypoVariantIsALookalike) {
  const auto domains = protected_domains();
  ASSERT_GE(domains.size(), 30u);
  std::map<std::string, Tally> per_fuzzer;
  std::size_t excluded_own = 0;
  for (const std::string& domain : domains) {
    auto rules = parse_rules("protect " + domain + " id=1\n", "dnstwist.rules");
    ASSERT_TRUE(rules) << domain;
    const Matcher m(*rules);
    const std::string ascii = normalise_domain(domain)->ascii;
    std::ifstream in(kFixtures + "/dnstwist/" + domain + ".list");
    ASSERT_TRUE(in) << "missing fixture for " << domain << "; run scripts/make-dnstwist-fixtures";
    std::size_t lines = 0;
    for (std::string line; std::getline(in, line);) {
      const auto tab = line.find('\t');
      ASSERT_NE(tab, std::string::npos) << line;
      const std::string fuzzer = line.substr(0, tab);
      const std::string variant = line.substr(tab + 1);
      ++lines;
      // At or under the protected domain itself: its owner's, never an alert by design.
      if (variant == ascii || variant.ends_with("." + ascii)) {
        ++excluded_own;
        continue;
      }
      Tally& t = per_fuzzer[fuzzer];
      ++t.total;
      const auto r = m.match(variant);
      if (r && r->protected_domain == ascii) {
        ++t.matched;
      } else if (t.missed.size() < 20) {
        t.missed.push_back(domain + " -> " + variant);
      }
    }
    EXPECT_GT(lines, 100u) << domain;
  }
  std::size_t total = 0;
  std::size_t matched = 0;
  for (const auto& [fuzzer, t] : per_fuzzer) {
    std::printf("dnstwist %-14s %7zu / %7zu  recall %.4f\n", fuzzer.c_str(), t.matched, t.total,
                t.total ? static_cast<double>(t.matched) / static_cast<double>(t.total) : 1.0);
    // A fuzzer of a newer dnstwist is required too, once added here.
    EXPECT_TRUE(kRequired.contains(fuzzer)) << "fixtures have fuzzer '" << fuzzer << "' unknown to this test";
    total += t.total;
    matched += t.matched;
    EXPECT_EQ(t.matched, t.total) << fuzzer;
    for (const std::string& miss : t.missed) ADD_FAILURE() << fuzzer << ": missed " << miss;
  }
  std::printf("dnstwist: %zu / %zu matched; %zu variants at/under the protected domain excluded\n", matched, total,
              excluded_own);
  for (const std::string& f : kRequired) EXPECT_GT(per_fuzzer[f].total, 0u) << f << " produced nothing";
}

}  // namespace
}  // namespace rcptwatch::detect
