// `rcptwatch state show|export|forget` (sensor/app/state_command.cpp), called in-process on a
// store filled by hand.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <vector>

#include "app/state_command.h"
#include "learn/correspondent_store.h"
#include "test_util.h"

namespace rcptwatch::learn {
namespace {

struct CommandRun {
  int status = 0;
  std::string out;
  std::string err;
};

CommandRun state(std::vector<std::string> args) {
  args.insert(args.begin(), "state");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CommandRun r;
  r.status = app::state_command_main(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

class StateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = CorrespondentStore::open(dir_.path() / kStoreFileName, CorrespondentStore::Access::Create);
    ASSERT_TRUE(s) << s.error();
    ObservationBatch b;
    testing::add_messages(b, "partner-firm.example", 6, {"a@example.org", "b@example.org", "c@example.org"});
    testing::add_messages(b, "once.example", 1, {"a@example.org"});
    ASSERT_TRUE(s->apply(b));
    ASSERT_TRUE(s->mark_established({s->find("partner-firm.example")->value().id}, Timestamp::from_seconds(1'700'000'100)));
  }
  std::string dir() const { return dir_.path().string(); }
  testing::ScratchDir dir_;
};

TEST_F(StateCommandTest, ShowPrintsATable) {
  const CommandRun r = state({"show", "--state-dir", dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("domain"), std::string::npos);
  std::istringstream lines(r.out);
  std::string header, first, second, footer;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  std::getline(lines, footer);
  // Sorted by domain: once.example, then partner-firm.example.
  EXPECT_EQ(first.rfind("once.example ", 0), 0u) << first;
  EXPECT_NE(first.find(" no"), std::string::npos) << first;
  EXPECT_EQ(second.rfind("partner-firm.example ", 0), 0u) << second;
  EXPECT_NE(second.find("        6        3  2023-11-14T22:13:20Z"), std::string::npos) << second;
  EXPECT_NE(second.find("yes"), std::string::npos) << second;
  EXPECT_EQ(footer, "2 domains, 1 established");
}

TEST_F(StateCommandTest, ConfigFileGivesTheStateDir) {
  // The sensor's own config: state-dir among options the state command does not know.
  const std::string conf = (dir_.path() / "rcptwatch.conf").string();
  std::ofstream(conf) << "# sensor config\ninterface = eth1\nlearn = true\nstate-dir = " << dir()
                      << "\nports = 25,587\n";
  const CommandRun r = state({"show", "-c", conf});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("2 domains, 1 established"), std::string::npos) << r.out;
  // --state-dir on the command line wins over the file.
  const testing::ScratchDir empty;
  const CommandRun other = state({"show", "-c", conf, "--state-dir", empty.path().string()});
  EXPECT_EQ(other.status, 2) << other.out;  // no store there
  EXPECT_NE(other.err.find(empty.path().string()), std::string::npos) << other.err;
}

TEST_F(StateCommandTest, UnreadableConfigFileIsNamed) {
  const std::string missing = (dir_.path() / "nope.conf").string();
  const CommandRun r = state({"show", "-c", missing});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(missing + ": cannot read the config file"), std::string::npos) << r.err;
}

TEST_F(StateCommandTest, ExportWritesJsonLines) {
  const CommandRun r = state({"export", "--state-dir", dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  const nlohmann::json& p = rows[1];
  EXPECT_EQ(p["domain"], "partner-firm.example");
  EXPECT_EQ(p["messages"], 6);
  EXPECT_EQ(p["senders"], 3);
  EXPECT_EQ(p["first_seen"], "2023-11-14T22:13:20.000000Z");
  EXPECT_EQ(p["last_seen"], "2023-11-14T22:13:25.000000Z");
  EXPECT_EQ(p["established"], true);
  EXPECT_EQ(p["established_at"], "2023-11-14T22:15:00.000000Z");
  EXPECT_EQ(rows[0]["established"], false);
  EXPECT_TRUE(rows[0]["established_at"].is_null());
}

TEST_F(StateCommandTest, ForgetDeletesAndRefusesUnknownDomains) {
  CommandRun r = state({"forget", "PARTNER-FIRM.example.", "--state-dir", dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "forgot partner-firm.example\n");
  r = state({"forget", "partner-firm.example", "--state-dir", dir()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("partner-firm.example: not in " + dir() + "/" + kStoreFileName), std::string::npos) << r.err;
  r = state({"export", "--state-dir", dir()});
  EXPECT_EQ(r.out.find("partner-firm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("once.example"), std::string::npos) << r.out;
}

TEST(StateCommand, UsageAndUnusableStores) {
  testing::ScratchDir empty;
  CommandRun r = state({"show", "--state-dir", empty.path().string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "rcptwatch state: " + (empty.path() / kStoreFileName).string() + ": does not exist\n");
  std::ofstream(empty.path() / kStoreFileName) << std::string(2048, 'x');
  r = state({"export", "--state-dir", empty.path().string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("not a database"), std::string::npos) << r.err;
  EXPECT_EQ(state({"forget", "--state-dir", empty.path().string()}).status, 2);  // no domain
  EXPECT_EQ(state({"frobnicate"}).status, 2);
  EXPECT_EQ(state({}).status, 2);
  r = state({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("state forget DOMAIN"), std::string::npos);
}

}  // namespace
}  // namespace rcptwatch::learn
