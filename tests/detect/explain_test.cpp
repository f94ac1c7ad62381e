// Matcher::explain and Matcher::variants: every reason, and every generated variant of every
// shipped protected domain matched by that domain's rule.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "detect/matcher.h"

namespace rcptwatch::detect {
namespace {

const char* kRules = R"(protect mil id=1
protect nato.int id=4 msg="NATO"
protect boeing.com id=11
allow *.partner.ml
allow nat0.int
watch evil.example id=20
)";

Matcher make(const std::string& text) {
  auto r = parse_rules(text, "explain.rules");
  if (!r) {
    ADD_FAILURE() << r.error().front().to_string();
    std::abort();
  }
  return Matcher(*r);
}

TEST(Explain, EveryReason) {
  const Matcher m = make(kRules);
  using V = Explanation::Verdict;
  using R = Explanation::Reason;
  struct Case {
    const char* domain;
    V verdict;
    R reason;
    const char* summary_part;
  };
  const Case cases[] = {
      {"army.ml", V::Match, R::Lookalike, "technique tld-omission, imitates mil at distance 1, rule id 1 (explain.rules:1)"},
      {"nto.int", V::Match, R::Lookalike, "imitates nato.int"},
      {"evil.example", V::Match, R::WatchList, "watch-list"},
      {"nat0.int", V::NoMatch, R::Allowed, "allowed by 'allow nat0.int' (explain.rules:5); it would otherwise match: technique homoglyph"},
      {"x.partner.ml", V::NoMatch, R::Allowed, "'allow *.partner.ml' (explain.rules:4)"},
      {"www.nato.int", V::NoMatch, R::AtOrUnderProtected, "at or under protected domain nato.int"},
      {"army.mil", V::NoMatch, R::AtOrUnderProtected, "protected domain mil"},
      {"nato.org", V::Match, R::Lookalike, "technique tld-swap, imitates nato.int at distance 1"},
      {"nato-webmail.int", V::Match, R::Lookalike, "technique combosquat, imitates nato.int at distance 1"},
      {"gmail.com", V::NoMatch, R::NoCandidate, "no protected domain within distance"},
      {"a..b", V::Invalid, R::InvalidDomain, "empty label"},
  };
  for (const Case& c : cases) {
    const Explanation x = m.explain(c.domain);
    EXPECT_EQ(x.verdict, c.verdict) << c.domain;
    EXPECT_EQ(x.reason, c.reason) << c.domain;
    EXPECT_NE(x.summary().find(c.summary_part), std::string::npos) << c.domain << ": " << x.summary();
    // explain and match agree on the verdict
    EXPECT_EQ(m.match(c.domain).has_value(), c.verdict == V::Match) << c.domain;
  }
}

TEST(Explain, NormalisedFormsAndSuffix) {
  const Matcher m = make(kRules);
  const Explanation x = m.explain("WWW.N\xD0\x90TO.INT.");  // Cyrillic capital А
  EXPECT_EQ(x.ascii, "www.xn--nto-6cd.int");
  EXPECT_EQ(x.unicode, "www.n\xD0\xB0to.int");
  EXPECT_EQ(x.registrable_domain, "xn--nto-6cd.int");
  EXPECT_EQ(x.public_suffix, "int");
  ASSERT_TRUE(x.match);
  EXPECT_EQ(x.match->technique, "homoglyph-unicode");
  const Explanation bad = m.explain("xn--zz.ml");
  EXPECT_TRUE(bad.malformed_idn);
  ASSERT_TRUE(bad.match);
  EXPECT_EQ(bad.match->technique, "malformed-idn");
}

TEST(Explain, AllowedWithNothingBehindIt) {
  const Matcher m = make(kRules);
  const Explanation x = m.explain("far.away.partner.ml");
  EXPECT_EQ(x.reason, Explanation::Reason::Allowed);
  // far.away.partner.ml is also a .ml typo of mil: the allow rule hid it, and says so.
  ASSERT_TRUE(x.suppressed);
  EXPECT_EQ(x.suppressed->protected_domain, "mil");
}

TEST(Variants, TechniquesAreTaggedAndFiltered) {
  const Matcher m = make(kRules);
  std::map<std::string, std::set<std::string>> by;
  for (const Variant& v : m.variants("nato.int")) by[v.technique].insert(v.domain);
  EXPECT_TRUE(by["omission"].contains("nto.int"));
  EXPECT_TRUE(by["omission"].contains("nato.it"));
  EXPECT_TRUE(by["insertion"].contains("nabto.int") || by["insertion"].contains("natro.int"));
  EXPECT_TRUE(by["repetition"].contains("natto.int"));
  EXPECT_TRUE(by["replacement"].contains("nazo.int"));  // QWERTZ neighbour
  EXPECT_TRUE(by["replacement"].contains("nqto.int"));  // AZERTY/QWERTY neighbour
  EXPECT_TRUE(by["transposition"].contains("anto.int"));
  EXPECT_TRUE(by["vowel-swap"].contains("nate.int"));
  EXPECT_TRUE(by["hyphenation"].contains("na-to.int"));
  EXPECT_TRUE(by["bitsquatting"].contains("ncto.int"));
  EXPECT_TRUE(by["homoglyph"].contains("nat0.int"));
  EXPECT_TRUE(by["subdomain"].contains("na.to.int"));
  EXPECT_TRUE(by["missing-dot"].contains("natoint.com"));
  EXPECT_TRUE(by["dot-to-hyphen"].contains("nato-int.com"));
  EXPECT_TRUE(by["appended-tld"].contains("nato.int.com"));
  EXPECT_TRUE(by["tld-typo"].contains("nato.in"));
  EXPECT_TRUE(by["tld-typo"].contains("nato.it"));
  EXPECT_TRUE(by["tld-swap"].contains("nato.com"));
  EXPECT_TRUE(by["tld-swap"].contains("nato.co.uk"));
  for (const char* d : {"login-nato.int", "loginnato.int", "nato-login.int", "natologin.int", "nato-webmail.int"}) {
    EXPECT_TRUE(by["combosquat"].contains(d)) << d;
  }
  for (const auto& [t, ds] : by) {
    EXPECT_FALSE(ds.contains("nato.int")) << t;
    for (const std::string& d : ds) EXPECT_FALSE(d.ends_with(".nato.int")) << d;
  }
  const auto only = m.variants("nato.int", "omission");
  ASSERT_FALSE(only.empty());
  for (const Variant& v : only) EXPECT_EQ(v.technique, "omission");
  EXPECT_TRUE(m.variants("nato.int", "no-such-technique").empty());
  EXPECT_TRUE(m.variants("a..b").empty());
  std::set<std::string> tld;
  for (const Variant& v : m.variants("mil")) tld.insert(v.domain);
  EXPECT_TRUE(tld.contains("example.ml"));
  EXPECT_TRUE(tld.contains("example.il"));
  EXPECT_FALSE(tld.contains("example.mi"));  // not a real suffix
  EXPECT_TRUE(tld.contains("example.mil.evil.com"));
  for (const Variant& v : m.variants("mil")) EXPECT_TRUE(v.technique == "tld-typo" || v.technique == "appended-tld") << v.domain;
}

TEST(Explain, AllowRuleHidesNameReuse) {
  const Matcher m = make("protect army.mil id=1\nallow army.com\n");
  const Explanation x = m.explain("army.com");
  EXPECT_EQ(x.reason, Explanation::Reason::Allowed);
  ASSERT_TRUE(x.suppressed);
  EXPECT_EQ(x.suppressed->technique, "tld-swap");
}

TEST(Variants, KeywordsStatementAddsCombosquatVariants) {
  const Matcher m = make("protect bücher.de\nkeywords shop\n");
  std::set<std::string> combos;
  for (const Variant& v : m.variants("bücher.de", "combosquat")) combos.insert(v.domain);
  EXPECT_TRUE(combos.contains("xn--bchershop-q9a.de")) << combos.size();  // büchershop.de
  for (const std::string& d : combos) EXPECT_TRUE(m.match(d)) << d;
}

// Every variant of every domain protected by the shipped packs is matched by that domain's rule.
TEST(Variants, EveryVariantOfShippedDomainsMatches) {
  const std::string dir = std::string(RCPTWATCH_SOURCE_DIR) + "/rules/";
  auto packs = load_rule_files({dir + "default.rules", dir + "governments.rules", dir + "example-company.rules"});
  ASSERT_TRUE(packs) << packs.error().front().to_string();
  std::size_t checked = 0;
  std::set<std::string> seen;
  for (const ProtectRule& r : (*packs)->rules()) {
    if (r.kind != RuleKind::Protect || !seen.insert(r.domain).second) continue;
    // The rule alone, with its distance but every technique (the variants list all of them).
    const Matcher m = make("protect " + r.domain + " distance=" + std::to_string(std::max<std::uint32_t>(r.max_distance, 1)) + "\n");
    const auto vs = m.variants(r.domain);
    EXPECT_GT(vs.size(), r.domain.find('.') == std::string::npos ? 1u : 20u) << r.domain;
    for (const Variant& v : vs) {
      const auto hit = m.match(v.domain);
      ++checked;
      EXPECT_TRUE(hit.has_value()) << r.domain << ": " << v.technique << " " << v.domain;
    }
  }
  EXPECT_GT(checked, 5000u);
}

}  // namespace
}  // namespace rcptwatch::detect
