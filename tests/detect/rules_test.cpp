// Rule loader: good files, every error type with its line and column, includes and cycles.
#include "detect/rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace rcptwatch::detect {
namespace {

namespace fs = std::filesystem;

// A per-test temporary directory, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rw_detect_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(Rules, ParsesAllKeywordsAndOptions) {
  const auto r = parse_rules(R"(# comment line

protect MIL. id=1 severity=critical msg="Lookalike of US military .mil"   # trailing comment
protect nato.int id=7 severity=low msg=NATO distance=2 techniques=omission,tld-omission except=tld-omission
  allow   ibn.com
allow *.partner.ml
watch evil.example id=9 msg="has \"quotes\" and # hash"
watch *.bad.example
protect lockheedmartin.com
protect )" "n\xC3\xA4to.int\n",
                             "mem.rules");
  ASSERT_TRUE(r) << r.error().front().to_string();
  const RuleSet& set = **r;
  ASSERT_EQ(set.rules().size(), 6u);
  const ProtectRule& mil = set.rules()[0];
  EXPECT_EQ(mil.id, 1u);
  EXPECT_EQ(mil.domain, "mil");
  EXPECT_EQ(mil.severity, Severity::Critical);
  EXPECT_EQ(mil.msg, "Lookalike of US military .mil");
  EXPECT_EQ(mil.source, "mem.rules:3");
  EXPECT_EQ(mil.kind, RuleKind::Protect);
  EXPECT_EQ(mil.max_distance, 1u);
  const ProtectRule& nato = set.rules()[1];
  EXPECT_EQ(nato.severity, Severity::Low);
  EXPECT_EQ(nato.msg, "NATO");
  EXPECT_EQ(nato.max_distance, 2u);
  EXPECT_EQ(nato.techniques, (std::vector<std::string>{"omission", "tld-omission"}));
  EXPECT_EQ(nato.except_techniques, (std::vector<std::string>{"tld-omission"}));
  const ProtectRule& evil = set.rules()[2];
  EXPECT_EQ(evil.kind, RuleKind::Watch);
  EXPECT_FALSE(evil.wildcard);
  EXPECT_EQ(evil.msg, "has \"quotes\" and # hash");
  const ProtectRule& bad = set.rules()[3];
  EXPECT_TRUE(bad.wildcard);
  EXPECT_EQ(bad.domain, "bad.example");
  EXPECT_EQ(bad.id, kAutoIdBase + 1);         // first rule without id
  EXPECT_EQ(bad.severity, Severity::High);    // default
  EXPECT_EQ(set.rules()[4].id, kAutoIdBase + 2);
  EXPECT_EQ(set.rules()[4].max_distance, 2u);  // 14-character label
  EXPECT_EQ(set.rules()[5].domain, "xn--nto-qla.int");  // stored as A-labels
  ASSERT_EQ(set.allows().size(), 2u);
  EXPECT_EQ(set.allows()[0].domain, "ibn.com");
  EXPECT_FALSE(set.allows()[0].wildcard);
  EXPECT_EQ(set.allows()[1].domain, "partner.ml");
  EXPECT_TRUE(set.allows()[1].wildcard);
  EXPECT_EQ(set.find(7), &set.rules()[1]);
  EXPECT_EQ(set.find(8), nullptr);
}

TEST(Rules, EmptyTextIsAnEmptySet) {
  const auto r = parse_rules("", "empty.rules");
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)->rules().empty());
  EXPECT_TRUE((*r)->allows().empty());
}

TEST(Rules, SeverityNames) {
  EXPECT_EQ(to_string(Severity::Low), "low");
  EXPECT_EQ(to_string(Severity::Medium), "medium");
  EXPECT_EQ(to_string(Severity::High), "high");
  EXPECT_EQ(to_string(Severity::Critical), "critical");
}

TEST(Rules, ErrorToString) {
  EXPECT_EQ((LoadError{"a.rules", 3, 9, "bad domain"}).to_string(), "a.rules:3:9: bad domain");
}

struct BadLine {
  const char* text;
  std::uint32_t line;
  std::uint32_t column;
  const char* reason_start;
};

class RulesBad : public ::testing::TestWithParam<BadLine> {};

TEST_P(RulesBad, RefusedWithPosition) {
  const BadLine& c = GetParam();
  const auto r = parse_rules(c.text, "bad.rules");
  ASSERT_FALSE(r) << c.text;
  ASSERT_EQ(r.error().size(), 1u) << r.error().front().to_string();
  const LoadError& e = r.error().front();
  EXPECT_EQ(e.file, "bad.rules");
  EXPECT_EQ(e.line, c.line) << e.to_string();
  EXPECT_EQ(e.column, c.column) << e.to_string();
  EXPECT_TRUE(e.reason.starts_with(c.reason_start)) << e.to_string();
}

INSTANTIATE_TEST_SUITE_P(
    EveryError, RulesBad,
    ::testing::Values(
        BadLine{"protekt nato.int\n", 1, 1, "unknown keyword 'protekt'"},
        BadLine{"protect nato.int\n  deny x.com\n", 2, 3, "unknown keyword 'deny'"},
        BadLine{"\"protect\" nato.int\n", 1, 1, "unknown keyword"},
        BadLine{"protect\n", 1, 8, "missing domain"},
        BadLine{"include\n", 1, 8, "missing path"},
        BadLine{"protect nato..int\n", 1, 9, "bad domain 'nato..int': empty label"},
        BadLine{"protect -nato.int\n", 1, 9, "bad domain"},
        BadLine{"protect na_to.int id=1\nprotect na$to.int\n", 2, 9, "bad domain"},
        BadLine{"protect *.nato.int\n", 1, 9, "bad domain"},
        BadLine{"allow *.\n", 1, 7, "bad domain"},
        BadLine{"allow *\n", 1, 7, "bad domain"},
        BadLine{"watch xn--zz.com\n", 1, 7, "bad domain 'xn--zz.com': malformed xn-- label"},
        BadLine{"protect nato.int id=0\n", 1, 18, "bad option: id must be"},
        BadLine{"protect nato.int id=abc\n", 1, 18, "bad option: id must be"},
        BadLine{"protect nato.int id=1000000\n", 1, 18, "bad option: id must be"},
        BadLine{"protect nato.int id=-1\n", 1, 18, "bad option: id must be"},
        BadLine{"protect nato.int severity=urgent\n", 1, 18, "bad option: severity"},
        BadLine{"protect nato.int distance=4\n", 1, 18, "bad option: distance"},
        BadLine{"protect a-very-long-name-indeed-for-a-domains.com distance=3\n", 1, 51,
                "bad option: distance=3 needs"},
        BadLine{"protect nato.int techniques=omission,typo\n", 1, 18, "bad option: unknown technique 'typo'"},
        BadLine{"protect nato.int techniques=\n", 1, 18, "bad option: techniques needs"},
        BadLine{"protect nato.int except=tld-swap,typo\n", 1, 18, "bad option: unknown technique 'typo'"},
        BadLine{"protect nato.int except=\n", 1, 18, "bad option: except needs"},
        BadLine{"watch evil.com except=omission\n", 1, 16, "bad option: 'except' is only valid for protect"},
        BadLine{"protect nato.int colour=red\n", 1, 18, "bad option: unknown option 'colour'"},
        BadLine{"protect nato.int critical\n", 1, 18, "bad option: expected key=value"},
        BadLine{"protect nato.int =x\n", 1, 18, "bad option: expected key=value"},
        BadLine{"protect nato.int id=1 id=2\n", 1, 23, "bad option: 'id' given twice"},
        BadLine{"watch evil.com distance=2\n", 1, 16, "bad option: 'distance' is only valid for protect"},
        BadLine{"allow ibn.com id=3\n", 1, 15, "bad option: 'allow' takes no options"},
        BadLine{"include x.rules extra\n", 1, 17, "bad option: 'include' takes no options"},
        BadLine{"protect nato.int msg=\"never closed\n", 1, 22, "unterminated quote"},
        BadLine{"# ok\nprotect nato.int id=5\nwatch evil.com  id=5\n", 3, 17,
                "duplicate id 5 (first used at bad.rules:2)"},
        BadLine{"include does-not-exist.rules\n", 1, 9, "cannot read"},
        BadLine{"keywords\n", 1, 9, "missing word after 'keywords'"},
        BadLine{"keywords login sign_in\n", 1, 16, "bad word 'sign_in' in 'keywords': only letters"},
        BadLine{"protect nato.int\nkeywords -login\n", 2, 10, "bad word '-login' in 'keywords': starts or ends"},
        BadLine{"keywords web m\xC3\xA4il\n", 1, 14, "bad word"},
        BadLine{"keywords login severity=low\n", 1, 16, "bad option: 'keywords' takes no options"}));

TEST(Rules, CollectsAllErrorsAndNeverHalfLoads) {
  const auto r = parse_rules(
      "protect nato.int id=1\n"
      "protekt x.com\n"
      "protect good.com id=2\n"
      "protect bad..com\n"
      "protect y.com id=1\n",
      "many.rules");
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 3u);
  EXPECT_EQ(r.error()[0].to_string(), "many.rules:2:1: unknown keyword 'protekt'");
  EXPECT_EQ(r.error()[1].line, 4u);
  EXPECT_EQ(r.error()[2].to_string(), "many.rules:5:15: duplicate id 1 (first used at many.rules:1)");
}

TEST(Rules, SeveralBadOptionsOnOneLineAreAllReported) {
  const auto r = parse_rules("protect nato.int id=x severity=y\n", "o.rules");
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 2u);
  EXPECT_EQ(r.error()[0].column, 18u);
  EXPECT_EQ(r.error()[1].column, 23u);
}

TEST(Rules, IncludeResolvesRelativeToTheIncludingFile) {
  TempDir dir;
  dir.write("sub/extra.rules", "protect nato.int id=2\ninclude ../leaf.rules\n");
  dir.write("leaf.rules", "allow ibn.com\nprotect boeing.com\n");
  const std::string main = dir.write("main.rules", "protect mil id=1\ninclude sub/extra.rules\nprotect se.ibm.com\n");
  const auto r = load_rule_files({main});
  ASSERT_TRUE(r) << r.error().front().to_string();
  const RuleSet& set = **r;
  ASSERT_EQ(set.rules().size(), 4u);
  EXPECT_EQ(set.rules()[0].domain, "mil");
  EXPECT_EQ(set.rules()[1].domain, "nato.int");
  EXPECT_EQ(set.rules()[2].domain, "boeing.com");
  EXPECT_EQ(set.rules()[2].id, kAutoIdBase + 1);  // load order, includes expanded in place
  EXPECT_EQ(set.rules()[3].id, kAutoIdBase + 2);
  EXPECT_EQ(set.allows().size(), 1u);
}

TEST(Rules, IncludeCycleIsCaught) {
  TempDir dir;
  const std::string a = dir.write("a.rules", "protect mil id=1\ninclude b.rules\n");
  const std::string b = dir.write("b.rules", "# b\n\ninclude   a.rules\n");
  const auto r = load_rule_files({a});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  const LoadError& e = r.error().front();
  EXPECT_EQ(e.file, b);
  EXPECT_EQ(e.line, 3u);
  EXPECT_EQ(e.column, 11u);
  EXPECT_TRUE(e.reason.starts_with("include cycle:")) << e.to_string();
}

TEST(Rules, SelfIncludeIsACycle) {
  TempDir dir;
  const std::string a = dir.write("self.rules", "include self.rules\n");
  const auto r = load_rule_files({a});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().front().reason.starts_with("include cycle:"));
}

TEST(Rules, ErrorInIncludedFileRefusesTheWholeSet) {
  TempDir dir;
  dir.write("inc.rules", "protect ok.com id=3\nprotect bad..com\n");
  const std::string main = dir.write("main.rules", "protect mil id=1\ninclude inc.rules\n");
  const auto r = load_rule_files({main});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].file, (dir.path() / "inc.rules").string());
  EXPECT_EQ(r.error()[0].line, 2u);
  EXPECT_EQ(r.error()[0].column, 9u);
}

TEST(Rules, DuplicateIdAcrossFiles) {
  TempDir dir;
  const std::string a = dir.write("a.rules", "protect mil id=1\n");
  const std::string b = dir.write("b.rules", "protect nato.int id=1\n");
  const auto r = load_rule_files({a, b});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].file, b);
  EXPECT_EQ(r.error()[0].column, 18u);
}

TEST(Rules, UnreadableTopLevelFile) {
  TempDir dir;
  const std::string missing = (dir.path() / "nope.rules").string();
  const auto r = load_rule_files({missing});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].to_string().rfind(missing + ":0:0: cannot read", 0), 0u) << r.error()[0].to_string();
  const auto d = load_rule_files({dir.path().string()});
  ASSERT_FALSE(d);
  EXPECT_NE(d.error()[0].reason.find("is a directory"), std::string::npos);
}

TEST(Rules, KeywordsAreLowerCasedAndDeduplicated) {
  const auto r = parse_rules("keywords Intranet login\nprotect nato.int\nkeywords intranet hr-portal\n", "k.rules");
  ASSERT_TRUE(r) << r.error().front().to_string();
  const auto k = (*r)->keywords();
  EXPECT_EQ(std::vector<std::string>(k.begin(), k.end()), (std::vector<std::string>{"intranet", "login", "hr-portal"}));
  const auto too_long = parse_rules("keywords " + std::string(64, 'a') + "\n", "k.rules");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error()[0].to_string().rfind("k.rules:1:10: bad word", 0), 0u) << too_long.error()[0].to_string();
}

TEST(Rules, TechniqueNamesAreKnown) {
  EXPECT_TRUE(is_technique_name("tld-swap"));
  EXPECT_TRUE(is_technique_name("combosquat"));
  EXPECT_EQ(technique_names().back(), "combosquat");  // ranked last
  EXPECT_TRUE(is_technique_name("tld-omission"));
  EXPECT_TRUE(is_technique_name("homoglyph-unicode"));
  EXPECT_FALSE(is_technique_name("typo"));
  EXPECT_FALSE(is_technique_name(""));
}

}  // namespace
}  // namespace rcptwatch::detect
