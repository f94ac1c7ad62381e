// Matcher: positive cases per technique, negative cases, normalisation and precedence.
#include "detect/matcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <fstream>
#include <thread>
#include <sstream>
#include <string>

namespace rcptwatch::detect {
namespace {

const char* kRules = R"(
protect mil          id=1 severity=critical msg="Lookalike of US military .mil"
protect nato.int     id=4 msg="NATO"
protect se.ibm.com   id=10
protect boeing.com   id=11
protect army.mil     id=2
protect ibm.com      id=12
protect microsoft.com id=13
protect mail.mil     id=14
protect lockheedmartin.com id=15
protect state.gov    id=16 techniques=omission,tld-omission
allow   ibn.com
allow   *.partner.ml
watch   evil.example id=20 severity=low msg="known bad"
watch   *.bad.example id=21
)";

Matcher make_matcher(const char* text = kRules) {
  auto rules = parse_rules(text, "test.rules");
  if (!rules) {
    for (const auto& e : rules.error()) ADD_FAILURE() << e.to_string();
    std::abort();
  }
  return Matcher(*rules);
}

// One domain's verdict, by technique only.
void expect_technique(const Matcher& m, const char* domain, const char* technique) {
  const auto r = m.match(domain);
  ASSERT_TRUE(r) << domain;
  EXPECT_EQ(r->technique, technique) << domain;
}

struct Positive {
  const char* domain;
  const char* protected_domain;
  const char* technique;
  std::uint32_t distance;
  std::uint32_t rule_id;
};

class MatcherPositive : public ::testing::TestWithParam<Positive> {};

TEST_P(MatcherPositive, Matches) {
  static const Matcher m = make_matcher();
  const Positive& c = GetParam();
  const auto r = m.match(c.domain);
  ASSERT_TRUE(r.has_value()) << c.domain;
  EXPECT_EQ(r->protected_domain, c.protected_domain) << c.domain;
  EXPECT_EQ(r->technique, c.technique) << c.domain;
  EXPECT_EQ(r->distance, c.distance) << c.domain;
  ASSERT_NE(r->rule, nullptr);
  EXPECT_EQ(r->rule->id, c.rule_id) << c.domain;
}

INSTANTIATE_TEST_SUITE_P(
    Techniques, MatcherPositive,
    ::testing::Values(
        // protected TLD "mil": any real TLD one edit away
        Positive{"army.ml", "mil", "tld-omission", 1, 1},
        Positive{"army.il", "mil", "tld-omission", 1, 1},
        Positive{"unrelated.ml", "mil", "tld-omission", 1, 1},
        Positive{"www.navy.ml", "mil", "tld-omission", 1, 1},
        Positive{"army.mil.evil.com", "mil", "appended-tld", 1, 1},
        Positive{"army.mil.com", "army.mil", "appended-tld", 1, 2},
        Positive{"www.army.mil.co.uk", "army.mil", "appended-tld", 1, 2},
        Positive{"navy.mil.ml", "mil", "tld-omission", 1, 1},
        // protected domains
        Positive{"nat0.int", "nato.int", "homoglyph", 1, 4},
        Positive{"nato.itn", "nato.int", "tld-transposition", 1, 4},
        Positive{"nato.in", "nato.int", "tld-omission", 1, 4},
        Positive{"natto.int", "nato.int", "repetition", 1, 4},
        Positive{"nto.int", "nato.int", "omission", 1, 4},
        Positive{"anto.int", "nato.int", "transposition", 1, 4},
        Positive{"natxo.int", "nato.int", "insertion", 1, 4},
        Positive{"nati.int", "nato.int", "keyboard", 1, 4},
        Positive{"nate.int", "nato.int", "vowel-swap", 1, 4},
        Positive{"ncto.int", "nato.int", "bitsquatting", 1, 4},
        Positive{"nabo.int", "nato.int", "replacement", 1, 4},
        // keyboard neighbours on QWERTZ (t/z) and AZERTY (a/q, m/l) as well as QWERTY
        Positive{"nazo.int", "nato.int", "keyboard", 1, 4},
        Positive{"nqto.int", "nato.int", "keyboard", 1, 4},
        Positive{"mail.nat0.int", "nato.int", "homoglyph", 1, 4},
        Positive{"na.to.int", "nato.int", "subdomain", 1, 4},
        Positive{"nato.int.ru", "nato.int", "appended-tld", 1, 4},
        Positive{"natoint.com", "nato.int", "missing-dot", 1, 4},
        Positive{"seibm.com", "se.ibm.com", "missing-dot", 1, 10},
        Positive{"boeinq.com", "boeing.com", "replacement", 1, 11},
        Positive{"boe-ing.com", "boeing.com", "hyphenation", 1, 11},
        Positive{"b-oe-ing.com", "boeing.com", "hyphenation", 2, 11},
        Positive{"armymil.com", "army.mil", "missing-dot", 1, 2},
        Positive{"ibrn.com", "ibm.com", "homoglyph", 2, 12},
        Positive{"rnicrosoft.com", "microsoft.com", "homoglyph", 2, 13},
        Positive{"microsoft.corn", "microsoft.com", "tld-homoglyph", 2, 13},
        Positive{"lockheedmartln.com", "lockheedmartin.com", "homoglyph", 1, 15},
        Positive{"lokheedmartn.com", "lockheedmartin.com", "omission", 2, 15},
        Positive{"lockheed-martin.com", "lockheedmartin.com", "hyphenation", 1, 15},
        Positive{"lockheedmartim.com", "lockheedmartin.com", "keyboard", 1, 15},
        Positive{"locheedmartn.com", "lockheedmartin.com", "omission", 2, 15},
        Positive{"locktheedmartin.com", "lockheedmartin.com", "insertion", 1, 15},
        // Cyrillic "а" (U+0430) in nato, as it appears on the wire and as UTF-8 (SMTPUTF8)
        Positive{"xn--nto-6cd.int", "nato.int", "homoglyph-unicode", 1, 4},
        Positive{"n\xD0\xB0to.int", "nato.int", "homoglyph-unicode", 1, 4},
        Positive{"xn--mcrosoft-thh.com", "microsoft.com", "homoglyph-unicode", 1, 13},
        // technique filter: state.gov reports only omissions
        Positive{"stte.gov", "state.gov", "omission", 1, 16},
        Positive{"state.go", "state.gov", "tld-omission", 1, 16},
        // malformed punycode close to a protected name
        Positive{"xn--a.nat0.int", "nato.int", "malformed-idn", 1, 4},
        Positive{"xn--zz.ml", "mil", "malformed-idn", 1, 1},
        // the protected name under another real suffix, and below such a domain
        Positive{"army.com", "army.mil", "tld-swap", 1, 2},
        Positive{"mail.army.com", "army.mil", "tld-swap", 1, 2},
        Positive{"army.co.uk", "army.mil", "tld-swap", 1, 2},
        Positive{"nato.com", "nato.int", "tld-swap", 1, 4},
        Positive{"se.ibm.net", "se.ibm.com", "tld-swap", 1, 10},
        Positive{"boeing.net", "boeing.com", "tld-swap", 1, 11},
        Positive{"microsoft.net", "microsoft.com", "tld-swap", 1, 13},
        Positive{"mail.com", "mail.mil", "tld-swap", 1, 14},
        // a keyword before or after the name, with or without a hyphen, or for a word of it
        Positive{"nato-login.int", "nato.int", "combosquat", 1, 4},
        Positive{"natologin.int", "nato.int", "combosquat", 1, 4},
        Positive{"loginnato.int", "nato.int", "combosquat", 1, 4},
        Positive{"login-nato.int", "nato.int", "combosquat", 1, 4},
        Positive{"www.securenato.int", "nato.int", "combosquat", 1, 4},
        Positive{"se.ibm-webmail.com", "se.ibm.com", "combosquat", 1, 10},
        Positive{"lockheedmartin-vpn.com", "lockheedmartin.com", "combosquat", 1, 15},
        // watch list
        Positive{"evil.example", "evil.example", "watch-list", 0, 20},
        Positive{"a.bad.example", "*.bad.example", "watch-list", 0, 21},
        // normalisation
        Positive{"NAT0.INT.", "nato.int", "homoglyph", 1, 4},
        Positive{"Army.ML", "mil", "tld-omission", 1, 1}));

class MatcherNegative : public ::testing::TestWithParam<const char*> {};

TEST_P(MatcherNegative, NoMatch) {
  static const Matcher m = make_matcher();
  const auto r = m.match(GetParam());
  EXPECT_FALSE(r.has_value()) << GetParam() << " -> " << r->protected_domain << " " << r->technique;
}

INSTANTIATE_TEST_SUITE_P(
    Negatives, MatcherNegative,
    ::testing::Values(
        // at or under a protected domain
        "army.mil", "sub.army.mil", "anything.mil", "ARMY.MIL.", "nato.int", "www.nato.int",
        "se.ibm.com", "x.se.ibm.com", "ibm.com", "mail.mil", "arrny.mil",
        // allowed
        "ibn.com", "a.partner.ml", "deep.a.partner.ml",
        // unrelated
        "gmail.com", "example.com", "google.com", "armyy.com", "natoxyz.int", "xyznato.int", "nato-xyz.int",
        "army.notasuffix", "nato.login.int",
        // state.gov reports omissions only: no tld-swap, no combosquat
        "state.com", "state-login.gov",
        // state.gov reports omissions only: statue.gov is an insertion
        "statue.gov",
        // a public suffix alone, the protected TLD as a registrable name, a watched suffix alone
        "ml", "mil.com", "mil.ru", "www.mil.ru", "bad.example", "example",
        // syntactically invalid input
        "", ".", "a..b", "-nato.int", "nat o.int", "nato.int\xff"));

TEST(Matcher, ProtectedTldOnlyMatchesRealSuffixes) {
  const Matcher m = make_matcher("protect mil id=1\n");
  for (const char* d : {"army.mi", "army.mill", "army.mll", "army.nil", "army.milk", "army.co.il",
                        "mod.gov.il", "army.com", "armymil.com", "army.mil.com", "mil.ml.com"}) {
    EXPECT_FALSE(m.match(d)) << d;
  }
  for (const char* d : {"army.ml", "army.il", "x.y.ml", "army.mil.mail.ml"}) EXPECT_TRUE(m.match(d)) << d;
}

TEST(Matcher, NameReuseNeverChangesAnotherVerdict) {
  // tld-swap and combosquat are tried only when nothing else matched, whatever the distance or
  // rule id: army.ml stays a suffix typo, lockheedmartin.ca a two-edit suffix typo.
  const Matcher m = make_matcher("protect army.mil id=9\nprotect lockheedmartin.com id=2\nprotect mil id=5\n");
  const std::pair<const char*, const char*> cases[] = {
      {"army.ml", "tld-omission"},          {"army.mil.com", "appended-tld"}, {"armymil.com", "missing-dot"},
      {"lockheedmartin.ca", "tld-multi-edit"}, {"army.net", "tld-swap"},     {"lockheedmartinmail.com", "combosquat"}};
  for (const auto& [domain, technique] : cases) expect_technique(m, domain, technique);
}

TEST(Matcher, TldSwapNeedsARealSuffixAndADomainRule) {
  const Matcher tld = make_matcher("protect mil id=1\n");
  for (const char* d : {"mil.com", "mil.net", "x.mil.org", "loginmil.com", "mil-login.com"}) EXPECT_FALSE(tld.match(d)) << d;
  const Matcher m = make_matcher("protect bbc.co.uk id=1\nprotect canada.gc.ca id=2\n");
  for (const char* d : {"bbc.com", "bbc.co", "bbc.de", "www.bbc.com.au", "canada.gc.com", "canada.com"}) {
    expect_technique(m, d, "tld-swap");
  }
  // No real suffix (libpsl's default rule only), or the name not left of the suffix.
  for (const char* d : {"bbc.notasuffix", "bbc.co.notasuffix", "bbc.example.com", "gc.com", "bbc-co.com"}) {
    EXPECT_FALSE(m.match(d)) << d << " -> " << m.match(d)->technique;
  }
}

TEST(Matcher, CombosquatOnlyInTheRegistrableLabel) {
  const Matcher m = make_matcher("protect se.ibm.com id=1\nprotect canada.gc.ca id=2\nprotect rolls-royce.com id=3\n");
  for (const char* d : {"se.loginibm.com", "x.se.ibm-mail.com", "canada.gclogin.ca", "canadalogin.gc.ca",
                        "rolls-login.com", "login-royce.com", "rolls-royce-help.com", "securerolls-royce.com"}) {
    expect_technique(m, d, "combosquat");
  }
  // loginse.ibm.com is IBM's own; rolls-royce-login-x is no keyword at an end.
  for (const char* d : {"loginse.ibm.com", "se-login.ibm.com", "rolls-royce-login-x.com", "rolls-xyz.com", "login.com",
                        "rolls-royce.login.com"}) {
    EXPECT_FALSE(m.match(d)) << d << " -> " << m.match(d)->technique;
  }
}

TEST(Matcher, NameReuseObeysTechniquesAllowAndKeywords) {
  const Matcher only = make_matcher("protect nato.int id=1 techniques=omission,tld-swap\n");
  EXPECT_FALSE(only.match("login-nato.int"));
  EXPECT_TRUE(only.match("nato.org"));
  const Matcher none = make_matcher("protect nato.int id=1 techniques=omission\n");
  EXPECT_FALSE(none.match("nato.org"));
  EXPECT_TRUE(none.match("nto.int"));
  // except= takes techniques out of all of them (or out of techniques=).
  const Matcher but = make_matcher("protect nato.int id=1 except=tld-swap\n");
  EXPECT_FALSE(but.match("nato.org"));
  EXPECT_TRUE(but.match("login-nato.int"));
  EXPECT_TRUE(but.match("nto.int"));
  const Matcher narrowed = make_matcher("protect nato.int id=1 techniques=omission,tld-swap except=omission\n");
  EXPECT_FALSE(narrowed.match("nto.int"));
  EXPECT_TRUE(narrowed.match("nato.org"));
  const Matcher allowed = make_matcher("protect army.mil id=1\nallow army.com\nallow *.army.net\n");
  EXPECT_FALSE(allowed.match("army.com"));
  EXPECT_FALSE(allowed.match("mail.army.net"));
  EXPECT_TRUE(allowed.match("army.org"));
  const Matcher plain = make_matcher("protect nato.int id=1\n");
  EXPECT_FALSE(plain.match("natoxyz.int"));
  const Matcher extended = make_matcher("protect nato.int id=1\nkeywords xyz Intranet\n");
  for (const char* d : {"natoxyz.int", "xyz-nato.int", "nato-intranet.int", "nato-login.int"}) {
    expect_technique(extended, d, "combosquat");
  }
}

TEST(Matcher, DeepDomainsMatchLikeShallowOnes) {
  // Label positions are found once per lookup (a domain has up to 127 labels): a trick
  // behind 117 more labels (up to 252 characters in all) is judged as it is behind one.
  const Matcher m = make_matcher();
  std::string deep;
  for (int i = 0; i < 117; ++i) deep += "a.";
  for (const char* d : {"boeinh.com", "boe-ing.com", "boeing.com.ru", "boeingcom.com", "boeing-com.net", "lockheedmartln.com"}) {
    const auto shallow = m.match_uncached(std::string("x.") + d);
    const auto far = m.match_uncached(deep + d);
    ASSERT_TRUE(shallow) << d;
    ASSERT_TRUE(far) << d;
    EXPECT_EQ(far->technique, shallow->technique) << d;
    EXPECT_EQ(far->protected_domain, shallow->protected_domain) << d;
  }
}

TEST(Matcher, DomainRuleTldTyposNeedNotExist) {
  // A typo of one protected domain is precise enough to report even under a TLD nobody sells.
  const Matcher m = make_matcher("protect army.mil id=2\n");
  const std::pair<const char*, const char*> cases[] = {
      {"army.mi", "tld-omission"}, {"army.mill", "tld-repetition"}, {"army.mll", "tld-homoglyph"},
      {"army.nil", "tld-keyboard"}, {"army.mli", "tld-transposition"}, {"army.mal", "tld-vowel-swap"},
      {"army.mxl", "tld-replacement"}, {"army.eil", "tld-bitsquatting"}, {"army.mixl", "tld-insertion"}};
  for (const auto& [domain, technique] : cases) expect_technique(m, domain, technique);
}

TEST(Matcher, AllowBeatsLookalikeButNotWatch) {
  const Matcher m = make_matcher(R"(
protect nato.int id=1
allow nat0.int
watch nat0.int id=2
allow *.int
)");
  const auto r = m.match("nat0.int");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->technique, "watch-list");
  EXPECT_FALSE(m.match("nto.int"));  // allowed by *.int
  EXPECT_TRUE(m.match("nato.itn"));
}

TEST(Matcher, WildcardAllowDoesNotCoverItsSuffix) {
  const Matcher m = make_matcher("protect nato.int id=1\nallow *.nat0.int\n");
  EXPECT_FALSE(m.match("x.nat0.int"));
  EXPECT_TRUE(m.match("nat0.int"));
}

TEST(Matcher, TiesGoToTheLowestRuleId) {
  const Matcher m = make_matcher("protect nato.int id=9\nprotect natu.int id=3\n");
  const auto r = m.match("natx.int");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 3u);
  EXPECT_EQ(r->protected_domain, "natu.int");
}

TEST(Matcher, LowerDistanceWinsOverLowerId) {
  const Matcher m = make_matcher("protect abcdefghij.com id=1\nprotect abcdefghxy.com id=2\n");
  const auto r = m.match("abcdefghxz.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 2u);
  EXPECT_EQ(r->distance, 1u);
}

TEST(Matcher, DistanceOptionWidensAndNarrows) {
  const Matcher wide = make_matcher("protect nato.int id=1 distance=2\n");
  EXPECT_TRUE(wide.match("ntoo.int"));
  const auto r = wide.match("ntao.int");  // one transposition
  ASSERT_TRUE(r);
  EXPECT_EQ(r->technique, "transposition");
  const Matcher narrow = make_matcher("protect nato.int id=1 distance=0\n");
  EXPECT_FALSE(narrow.match("nto.int"));
  EXPECT_TRUE(narrow.match("xn--nto-6cd.int"));  // homoglyphs are not edit-distance bound
  const Matcher three = make_matcher("protect nato.int id=1 distance=3\n");
  const auto r3 = three.match("nqxo.inr");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->distance, 3u);
  EXPECT_EQ(r3->technique, "multi-edit");
  const Matcher dflt = make_matcher("protect nato.int id=1\n");
  EXPECT_FALSE(dflt.match("ntoo.int"));
}

TEST(Matcher, MatchCarriesRuleAndForms) {
  const Matcher m = make_matcher();
  const auto r = m.match("xn--nto-6cd.int");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->domain, "xn--nto-6cd.int");
  EXPECT_EQ(r->domain_unicode, "n\xD0\xB0to.int");
  EXPECT_EQ(r->rule->msg, "NATO");
  EXPECT_EQ(r->rule, m.rules().find(4));
}

TEST(Matcher, MovedMatcherStillWorks) {
  Matcher a = make_matcher();
  Matcher b = std::move(a);
  EXPECT_TRUE(b.match("army.ml"));
}

TEST(Matcher, ManyRulesStillPickTheClosest) {
  // Thousands of near-identical protected names: the index must return the right one, not
  // just any candidate sharing a deletion variant.
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "protect host" + std::to_string(i) + ".example.org id=" + std::to_string(i + 1) + "\n";
  const Matcher m = make_matcher(text.c_str());
  const auto r = m.match("host2999.example.orq");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->protected_domain, "host2999.example.org");
  EXPECT_EQ(r->technique, "tld-replacement");
  EXPECT_FALSE(m.match("host2999.example.org"));
  EXPECT_FALSE(m.match("mail.host17.example.org"));
}

TEST(Matcher, LargeIndexStopsAtOneEditOnlyWhenNothingDeeperCanWin) {
  // Over 16 rules take the deletion table, whose query stops before the variants of two
  // deletions once a candidate one edit away is the best: every pair one edit apart shares a
  // variant of at most one deletion each. The verdicts must be those of the whole query.
  std::string text;
  for (int i = 0; i < 40; ++i) text += "protect filler" + std::to_string(i) + "name.org id=" + std::to_string(100 + i) + "\n";
  text += "protect abcdefghij.com id=5\nprotect abcdefghxy.com id=6\nprotect abcdefxyjk.com id=4\n";
  const Matcher m = make_matcher(text.c_str());
  // One edit from id 6, two from the lower id 5.
  auto r = m.match_uncached("abcdefghxz.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 6u);
  EXPECT_EQ(r->distance, 1u);
  // Id 5 shares a variant of one deletion but is two edits away; id 4, two substitutions away,
  // shares only variants of two deletions, and its lower id wins.
  r = m.match_uncached("abcdefghjk.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 4u);
  EXPECT_EQ(r->distance, 2u);
  // Two substitutions, nothing closer.
  r = m.match_uncached("abcdefqrij.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 5u);
  EXPECT_EQ(r->distance, 2u);
}

// `count` names of `alphabet` characters, of lengths min_len..max_len in turn.
std::vector<std::string> random_names(std::mt19937_64& rng, const std::string& alphabet, int count, std::size_t min_len,
                                      std::size_t max_len) {
  std::uniform_int_distribution<std::size_t> letter(0, alphabet.size() - 1);
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    std::string n;
    const std::size_t len = min_len + static_cast<std::size_t>(i) % (max_len - min_len + 1);
    for (std::size_t k = 0; k < len; ++k) n.push_back(alphabet[letter(rng)]);
    names.push_back(n);
  }
  return names;
}

TEST(Matcher, LargeIndexLosesNoEditWithinDistance) {
  // 4,000 rules at distance 2 take the indexed path (a deletion table behind a Bloom filter of
  // its variants). Two random edits of any rule must still match some rule within distance 2:
  // a filter or table that hashed a variant differently on the two sides would lose it.
  std::mt19937_64 rng(11);
  const std::string letters = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<std::size_t> letter(0, letters.size() - 1);
  const std::vector<std::string> names = random_names(rng, letters, 4000, 8, 16);
  std::string text;
  for (const std::string& n : names) text += "protect " + n + ".com distance=2\n";
  const Matcher m = make_matcher(text.c_str());
  int lost = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string v = names[i];
    for (int edit = 0; edit < 2; ++edit) {
      std::uniform_int_distribution<std::size_t> pos(0, v.size() - 1);
      const std::size_t p = pos(rng);
      switch ((i + static_cast<std::size_t>(edit)) % 3) {
        case 0: v.erase(p, 1); break;
        case 1: v.insert(p, 1, letters[letter(rng)]); break;
        default: v[p] = v[p] == 'q' ? 'z' : 'q'; break;
      }
    }
    const auto r = m.match_uncached(v + ".com");
    if (v == names[i]) continue;  // the two edits undid each other
    if (!r || r->distance > 2) {
      ++lost;
      ADD_FAILURE() << v << ".com (two edits of " << names[i] << ".com) did not match";
    }
  }
  EXPECT_EQ(lost, 0);
  EXPECT_FALSE(m.match_uncached("zzzzzzzzzzzzzzzzzzzzzzzz.com"));
}

TEST(Matcher, TypoOfTheLastLabelsOnlyWhenTheyAreNotAllSuffix) {
  // x.qc.ca is a name under the real suffix qc.ca, not a typo of gc.ca; x.gd.ca is one. The
  // suffix is asked only once every other technique has offered, for the typos that still win.
  const Matcher m = make_matcher("protect gc.ca distance=1\n");
  EXPECT_FALSE(m.match_uncached("x.qc.ca"));
  const auto r = m.match_uncached("x.gd.ca");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->protected_domain, "gc.ca");
  EXPECT_EQ(r->technique, "keyboard");
}

TEST(Matcher, TieBetweenRulesOfOneIdGoesToTheTypoOfTheLastLabels) {
  // A hand-built RuleSet may repeat an id. Two candidates of one distance, id and technique:
  // the one of the last two labels (bce.com in a.bcd.com) was offered first and wins, as when
  // it was merged on the spot, over the whole domain's (a.bce.com).
  std::vector<ProtectRule> rules(2);
  for (ProtectRule& r : rules) r.id = 7;
  rules[0].domain = "a.bce.com";
  rules[1].domain = "bce.com";
  const Matcher m(std::make_shared<const RuleSet>(rules, std::vector<AllowRule>{}));
  const auto r = m.match_uncached("a.bcd.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->technique, "keyboard");
  EXPECT_EQ(r->protected_domain, "bce.com");
}

TEST(Matcher, LargeIndexFindsEveryInsertionWithinDistance) {
  // The indexed path makes a query's deletion variants in rows (all those sharing their first
  // deletion), runs of equal characters deleted once, in batches of at least 64 keys: two
  // characters added anywhere to a distance-2 name, the suffix included, and one added anywhere
  // to a distance-1 name must each take the query back to the protected text. Letters equal
  // to a neighbour make runs of every length; names of 20 characters make 200 variants.
  std::string text;
  for (int i = 0; i < 40; ++i) text += "protect filler" + std::to_string(i) + "name.org distance=1\n";
  const std::vector<std::string> two = {"aabbbcdeeeeffg.com", "bookkeeper-yard.net", "mississippi.org"};
  const std::vector<std::string> one = {"tatttoooz.de", "zyxwvutsr.eu"};
  for (const std::string& d : two) text += "protect " + d + " distance=2\n";
  for (const std::string& d : one) text += "protect " + d + " distance=1\n";
  const Matcher m = make_matcher(text.c_str());
  int lost = 0;
  const auto expect = [&](const std::string& observed, const std::string& want) {
    const auto r = m.match_uncached(observed);
    if (!r || r->protected_domain != want) {
      ++lost;
      ADD_FAILURE() << observed << ": " << (r ? r->protected_domain : std::string("no match")) << ", want " << want;
    }
  };
  // What goes in at `pos`: a copy of a neighbour (lengthening a run) or a letter of its own.
  const auto insert_at = [](std::string s, std::size_t pos, int kind) {
    const char c = kind == 0 ? s[pos == 0 ? 0 : pos - 1] : kind == 1 ? s[std::min(pos, s.size() - 1)] : 'q';
    s.insert(pos, 1, c);
    return s;
  };
  // A dot put in makes another label: a different trick.
  const auto same_labels = [](const std::string& v, const std::string& d) {
    return std::count(v.begin(), v.end(), '.') == std::count(d.begin(), d.end(), '.') && v.back() != '.';
  };
  for (const std::string& d : two) {
    for (std::size_t a = 0; a <= d.size(); ++a) {
      for (std::size_t b = a; b <= d.size() + 1; ++b) {
        for (int kind = 0; kind < 3; ++kind) {
          const std::string v = insert_at(insert_at(d, a, kind), b, (kind + 1) % 3);
          if (same_labels(v, d)) expect(v, d);
        }
      }
    }
  }
  for (const std::string& d : one) {
    for (std::size_t a = 0; a <= d.size(); ++a) {
      for (int kind = 0; kind < 3; ++kind) {
        const std::string v = insert_at(d, a, kind);
        if (same_labels(v, d)) expect(v, d);
      }
    }
  }
  EXPECT_EQ(lost, 0);
}

TEST(Matcher, LargeExactKeyTableLosesNoStructuralTrick) {
  // 40,000 rules make the exact-key table and the protected-domain set big enough (over 1 MiB)
  // to have a Bloom filter in front of each: every structural trick of every rule must still
  // be found through it, and a protected domain or a name under one must still be its own.
  std::mt19937_64 rng(5);
  const std::vector<std::string> names = random_names(rng, "abcdefghijklmnopqrstuvwxyz", 40000, 9, 9);
  std::string text;
  for (const std::string& n : names) text += "protect " + n + ".com\n";
  const Matcher m = make_matcher(text.c_str());
  const std::pair<const char*, const char*> tricks[] = {
      {".com.ru", "appended-tld"}, {"com.net", "missing-dot"}, {"-com.net", "dot-to-hyphen"}};
  int lost = 0;
  for (std::size_t i = 0; i < names.size(); i += 13) {
    for (const std::string& own : {names[i] + ".com", "mail." + names[i] + ".com"}) {
      if (m.match_uncached(own)) {
        ++lost;
        ADD_FAILURE() << own << " is the protected domain's own, yet alerts";
      }
    }
    for (const auto& [tail, technique] : tricks) {
      const std::string d = names[i] + tail;
      const auto r = m.match_uncached(d);
      if (!r || r->protected_domain != names[i] + ".com" || r->technique != technique) {
        ++lost;
        ADD_FAILURE() << d << ": " << (r ? r->technique + " of " + r->protected_domain : std::string("no match"));
      }
    }
    const std::string split = names[i].substr(0, 4) + "." + names[i].substr(4) + ".com";
    const auto r = m.match_uncached(split);
    if (!r || r->technique != "subdomain") {
      ++lost;
      ADD_FAILURE() << split << ": " << (r ? r->technique : std::string("no match"));
    }
  }
  EXPECT_EQ(lost, 0);
}

TEST(Matcher, VerdictCacheGivesTheSameAnswers) {
  auto rules = parse_rules(kRules, "test.rules");
  ASSERT_TRUE(rules);
  const Matcher cached(*rules, 8);  // tiny: forces slot reuse
  const Matcher plain(*rules, 0);
  const char* domains[] = {"army.ml", "nat0.int", "gmail.com", "nato.int", "boe-ing.com", "a..b", "ARMY.ML"};
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        for (const char* d : domains) {
          const auto a = cached.match(d);
          const auto b = plain.match(d);
          if (a.has_value() != b.has_value() || (a && (a->technique != b->technique || a->domain != b->domain))) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// More distinct domains than a 256-entry cache holds, looked up three times over: every set
// fills, entries are evicted and reused, and each answer is still the uncached one.
TEST(Matcher, VerdictCacheEvictsWithoutWrongAnswers) {
  auto rules = parse_rules(kRules, "test.rules");
  ASSERT_TRUE(rules);
  const Matcher cached(*rules, 256);
  const Matcher plain(*rules, 0);
  std::vector<std::string> domains;
  for (int i = 0; i < 3000; ++i) {
    domains.push_back(i % 3 == 0 ? "army" + std::to_string(i) + ".ml" : "n" + std::to_string(i) + ".example");
  }
  domains.push_back("army.ml");
  domains.push_back("nat0.int");
  int mismatches = 0;
  int matches = 0;
  for (int round = 0; round < 3; ++round) {
    for (const auto& d : domains) {
      const auto a = cached.match(d);
      const auto b = plain.match(d);
      if (b) ++matches;
      if (a.has_value() != b.has_value() ||
          (a && (a->technique != b->technique || a->domain != b->domain || a->protected_domain != b->protected_domain))) {
        ++mismatches;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GE(matches, 6);  // army.ml and nat0.int, each round
}

TEST(Matcher, ShippedDefaultRules) {
  auto rules = load_rule_files({std::string(RCPTWATCH_SOURCE_DIR) + "/rules/default.rules"});
  ASSERT_TRUE(rules) << rules.error().front().to_string();
  const Matcher m(*rules);
  const auto r = m.match("army.ml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rule->id, 1u);
  EXPECT_EQ(r->rule->severity, Severity::Critical);
  EXPECT_EQ(r->rule->msg, "Lookalike of US military .mil");
  EXPECT_TRUE(m.match("nat0.int"));
  EXPECT_TRUE(m.match("defence.gov"));
  EXPECT_TRUE(m.match("mod.gov.uk.com"));
  EXPECT_TRUE(m.match("armymil.com"));
  for (const char* ok : {"army.mil", "nato.int", "defense.gov", "mod.gov.uk", "gmail.com", "example.com",
                         "google.com", "yahoo.com", "outlook.com", "gov.uk", "europa.eu", "ec.europa.eu"}) {
    EXPECT_FALSE(m.match(ok)) << ok;
  }
}

}  // namespace
}  // namespace rcptwatch::detect
