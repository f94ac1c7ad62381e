// `rcptwatch rules check|explain|variants`, called in-process with captured output.
#include "app/rules_command.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rcptwatch::app {
namespace {

struct CommandRun {
  int status = 0;
  std::string out;
  std::string err;
};

CommandRun run(std::vector<std::string> args) {
  args.insert(args.begin(), "rules");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CommandRun r;
  r.status = rules_command_main(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

const std::string kDir = std::string(RCPTWATCH_SOURCE_DIR) + "/rules/";

TEST(RulesCheck, ShippedPacksAreValid) {
  for (const char* f : {"default.rules", "mil.rules", "governments.rules", "example-company.rules"}) {
    const CommandRun r = run({"check", kDir + f});
    EXPECT_EQ(r.status, 0) << f << r.err;
    EXPECT_TRUE(r.out.starts_with("ok: ")) << r.out;
  }
  const CommandRun all = run({"check", kDir + "default.rules", kDir + "governments.rules", kDir + "example-company.rules"});
  EXPECT_EQ(all.status, 0) << all.err;
}

TEST(RulesCheck, CountsAndErrors) {
  const std::string good = write_temp("good.rules", "protect nato.int\nallow nat0.int\nwatch evil.example\nprotect mil\n");
  const CommandRun ok = run({"check", good});
  EXPECT_EQ(ok.status, 0);
  EXPECT_EQ(ok.out, "ok: 2 protect, 1 allow, 1 watch rules\n");
  const std::string words = write_temp("words.rules", "protect nato.int\nkeywords intranet staff\n");
  EXPECT_EQ(run({"check", words}).out, "ok: 1 protect, 0 allow, 0 watch rules, 2 added combosquat keywords\n");
  const std::string bad = write_temp("bad.rules", "protect nato..int\nprotekt x.com\n");
  const CommandRun r = run({"check", bad});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(bad + ":1:9: bad domain"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad + ":2:1: unknown keyword 'protekt'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"check", "/nonexistent.rules"}).status, 2);
  EXPECT_EQ(run({"check"}).status, 2);
  EXPECT_EQ(run({"check", "--bogus"}).status, 2);
  EXPECT_EQ(run({"check", "--help"}).status, 0);
}

TEST(RulesExplain, DefaultRulesTextAndJson) {
  const CommandRun r = run({"explain", "army.ml", "gmail.com"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.out.find("army.ml: MATCH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<built-in default.rules>:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gmail.com: no match"), std::string::npos) << r.out;
  const CommandRun none = run({"explain", "gmail.com", "www.nato.int"});
  EXPECT_EQ(none.status, 0);
  EXPECT_NE(none.out.find("at or under protected domain nato.int"), std::string::npos) << none.out;
  const CommandRun j = run({"explain", "--json", "nat0.int"});
  EXPECT_EQ(j.status, 1);
  EXPECT_NE(j.out.find("\"verdict\":\"match\""), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"technique\":\"homoglyph\""), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"protected_domain\":\"nato.int\""), std::string::npos) << j.out;
  EXPECT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 1);
}

TEST(RulesExplain, RulesFileAndAllow) {
  const std::string f = write_temp("allow.rules", "protect nato.int id=4\nallow nat0.int\n");
  const CommandRun r = run({"explain", "nat0.int", "--rules", f, "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"allow_source\":\"" + f + ":2\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"suppressed\":{"), std::string::npos) << r.out;
  EXPECT_EQ(run({"explain", "x.com", "--rules", "/nonexistent.rules"}).status, 2);
  EXPECT_EQ(run({"explain"}).status, 2);
  EXPECT_EQ(run({"explain", "--help"}).status, 0);
}

TEST(RulesVariants, ListsTabSeparated) {
  const CommandRun r = run({"variants", "nato.int"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("nto.int\tomission\n"), std::string::npos);
  EXPECT_NE(r.out.find("nat0.int\thomoglyph\n"), std::string::npos);
  const CommandRun t = run({"variants", "nato.int", "--technique", "transposition"});
  EXPECT_EQ(t.status, 0);
  std::istringstream lines(t.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) EXPECT_TRUE(line.ends_with("\ttransposition")) << line;
  EXPECT_GT(n, 3);
  EXPECT_EQ(run({"variants", "nato.int", "--technique", "bogus"}).status, 2);
  EXPECT_EQ(run({"variants", "nato..int"}).status, 2);
  EXPECT_EQ(run({"variants"}).status, 2);
  EXPECT_EQ(run({"variants", "a.com", "b.com"}).status, 2);
  EXPECT_EQ(run({"bogus"}).status, 2);
  EXPECT_EQ(run({}).status, 2);
  EXPECT_EQ(run({"--help"}).status, 0);
}

}  // namespace
}  // namespace rcptwatch::app
