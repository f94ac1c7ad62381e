// CorrespondentStore over a real SQLite file: counts, distinct senders, the domain bound and
// its eviction order, persistence across reopening, forget, and the errors for files that are
// not (intact) stores.
#include <gtest/gtest.h>

#include <fstream>

#include "learn/correspondent_store.h"
#include "test_util.h"

namespace rcptwatch::learn {
namespace {

using testing::add_messages;
using Access = CorrespondentStore::Access;

class StoreTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_.path() / kStoreFileName; }
  CorrespondentStore open(std::size_t max_domains = 100) {
    auto s = CorrespondentStore::open(file(), Access::Create, max_domains);
    EXPECT_TRUE(s) << s.error();
    return std::move(*s);
  }
  static CorrespondentRecord get(CorrespondentStore& s, std::string_view domain) {
    auto r = s.find(domain);
    EXPECT_TRUE(r) << r.error();
    EXPECT_TRUE(r->has_value()) << domain;
    return r->value_or(CorrespondentRecord{});
  }
  static void apply(CorrespondentStore& s, const ObservationBatch& b) {
    auto r = s.apply(b);
    ASSERT_TRUE(r) << r.error();
  }
  testing::ScratchDir dir_;
};

TEST_F(StoreTest, CountsAndDistinctSendersAccumulateOverBatches) {
  CorrespondentStore s = open();
  ObservationBatch first;
  add_messages(first, "partner.example", 3, {"a@example.org", "b@example.org"}, 1000);
  auto r1 = s.apply(first);
  ASSERT_TRUE(r1) << r1.error();
  EXPECT_EQ(r1->domains_added, 1u);
  ObservationBatch second;
  add_messages(second, "partner.example", 2, {"b@example.org", "c@example.org"}, 500);
  auto r2 = s.apply(second);
  ASSERT_TRUE(r2) << r2.error();
  EXPECT_EQ(r2->domains_updated, 1u);
  const CorrespondentRecord p = get(s, "partner.example");
  EXPECT_EQ(p.messages, 5u);
  EXPECT_EQ(p.senders, 3u);  // b counted once
  EXPECT_EQ(p.first_seen, Timestamp::from_seconds(500));
  EXPECT_EQ(p.last_seen, Timestamp::from_seconds(1002));
  EXPECT_FALSE(p.established_at);
}

TEST_F(StoreTest, DistinctSendersSaturateAtTheCap) {
  CorrespondentStore s = open();
  for (int round = 0; round < 3; ++round) {
    ObservationBatch b;
    for (int i = 0; i < 40; ++i) {
      b.add_domain("busy.example", sender_hash(std::to_string(round) + "-" + std::to_string(i)), true, Timestamp{i});
    }
    apply(s, b);
  }
  EXPECT_EQ(get(s, "busy.example").senders, kMaxSendersPerDomain);
  EXPECT_EQ(get(s, "busy.example").messages, 120u);
}

TEST_F(StoreTest, BoundEvictsLeastRecentlySeenAndEstablishedLast) {
  CorrespondentStore s = open(3);
  ObservationBatch old_one;
  add_messages(old_one, "oldest.example", 1, {"a@example.org"}, 10);
  add_messages(old_one, "old.example", 1, {"a@example.org"}, 20);
  add_messages(old_one, "established.example", 1, {"a@example.org"}, 5);  // oldest of all
  apply(s, old_one);
  ASSERT_TRUE(s.mark_established({get(s, "established.example").id}, Timestamp::from_seconds(30)));
  ObservationBatch newer;
  add_messages(newer, "new1.example", 1, {"a@example.org"}, 40);
  add_messages(newer, "new2.example", 1, {"a@example.org"}, 50);
  auto r = s.apply(newer);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->evicted, 2u);
  auto all = s.all();
  ASSERT_TRUE(all) << all.error();
  std::vector<std::string> kept;
  for (const auto& rec : *all) kept.push_back(rec.domain);
  EXPECT_EQ(kept, (std::vector<std::string>{"established.example", "new1.example", "new2.example"}));
  auto count = s.domain_count();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 3u);
}

TEST_F(StoreTest, EstablishedAreKeptEvenOverNewerDomains) {
  CorrespondentStore s = open(1);
  ObservationBatch b;
  add_messages(b, "a.example", 1, {"x@example.org"}, 10);
  apply(s, b);
  ASSERT_TRUE(s.mark_established({get(s, "a.example").id}, Timestamp{1}));
  ObservationBatch c;
  add_messages(c, "b.example", 1, {"x@example.org"}, 20);
  apply(s, c);
  auto all = s.all();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().domain, "a.example");
}

TEST_F(StoreTest, SurvivesReopening) {
  std::int64_t id = 0;
  {
    CorrespondentStore s = open();
    ObservationBatch b;
    add_messages(b, "partner.example", 4, {"a@example.org", "b@example.org"}, 100);
    apply(s, b);
    id = get(s, "partner.example").id;
    ASSERT_TRUE(s.mark_established({id}, Timestamp::from_seconds(200)));
  }
  CorrespondentStore s = open();
  const CorrespondentRecord p = get(s, "partner.example");
  EXPECT_EQ(p.id, id);
  EXPECT_EQ(p.messages, 4u);
  EXPECT_EQ(p.senders, 2u);
  ASSERT_TRUE(p.established_at);
  EXPECT_EQ(*p.established_at, Timestamp::from_seconds(200));
  auto established = s.established();
  ASSERT_TRUE(established);
  ASSERT_EQ(established->size(), 1u);
  // Senders persisted too: the same two again add nothing.
  ObservationBatch again;
  add_messages(again, "partner.example", 2, {"a@example.org", "b@example.org"}, 300);
  apply(s, again);
  EXPECT_EQ(get(s, "partner.example").senders, 2u);
  // Read-only access sees the same.
  auto ro = CorrespondentStore::open(file(), Access::ReadOnly);
  ASSERT_TRUE(ro) << ro.error();
  auto rec = ro->find("partner.example");
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->messages, 6u);
}

TEST_F(StoreTest, ForgetDeletesTheDomainAndItsSenders) {
  CorrespondentStore s = open();
  ObservationBatch b;
  add_messages(b, "partner.example", 3, {"a@example.org", "b@example.org"});
  add_messages(b, "other.example", 1, {"a@example.org"});
  apply(s, b);
  auto gone = s.forget("partner.example");
  ASSERT_TRUE(gone) << gone.error();
  EXPECT_TRUE(*gone);
  auto again = s.forget("partner.example");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto missing = s.find("partner.example");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(s.find("other.example")->has_value());
  // Learned again from scratch: one sender, one message, a new id.
  ObservationBatch later;
  add_messages(later, "partner.example", 1, {"a@example.org"});
  apply(s, later);
  EXPECT_EQ(get(s, "partner.example").senders, 1u);
  EXPECT_EQ(get(s, "partner.example").messages, 1u);
}

TEST_F(StoreTest, CandidatesMeetBothThresholds) {
  CorrespondentStore s = open();
  ObservationBatch b;
  add_messages(b, "both.example", 5, {"a@example.org", "b@example.org"});
  add_messages(b, "one-sender.example", 9, {"a@example.org"});
  add_messages(b, "few-messages.example", 4, {"a@example.org", "b@example.org"});
  apply(s, b);
  auto c = s.candidates(5, 2);
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(c->front().domain, "both.example");
  ASSERT_TRUE(s.mark_established({c->front().id}, Timestamp{1}));
  EXPECT_TRUE(s.candidates(5, 2)->empty());  // established ones are no longer candidates
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

TEST_F(StoreTest, GarbageFileIsRefusedWithItsNameAndReason) {
  write_file(file(), std::string(4096, 'x'));
  auto s = CorrespondentStore::open(file(), Access::Create);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find(file().string() + ": "), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("not a database"), std::string::npos) << s.error();
}

TEST_F(StoreTest, DamagedStoreIsRefused) {
  {
    CorrespondentStore s = open();
    ObservationBatch b;
    for (int i = 0; i < 2000; ++i) add_messages(b, "d" + std::to_string(i) + ".example", 1, {"a@example.org"});
    apply(s, b);
  }
  ASSERT_TRUE(std::filesystem::exists(file()));
  // Overwrite the pages after the first (the header stays valid): the b-trees are damaged.
  const auto size = std::filesystem::file_size(file());
  ASSERT_GT(size, 8192u);
  {
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string junk(size - 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto s = CorrespondentStore::open(file(), Access::Create);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().rfind(file().string() + ": ", 0), 0u) << s.error();
}

TEST_F(StoreTest, ForeignDatabaseIsNotTakenOver) {
  {
    auto db = sqlite::open_database(file().string(), sqlite::OpenMode::Create);
    ASSERT_TRUE(db);
    ASSERT_TRUE(sqlite::exec(db->get(), "CREATE TABLE invoices(id INTEGER)"));
  }
  auto s = CorrespondentStore::open(file(), Access::Create);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("not an rcptwatch state database"), std::string::npos) << s.error();
}

TEST_F(StoreTest, MissingFileForReadingAndMissingDirectory) {
  auto ro = CorrespondentStore::open(file(), Access::ReadOnly);
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error(), file().string() + ": does not exist");
  EXPECT_FALSE(std::filesystem::exists(file()));  // reading never creates
  auto nodir = CorrespondentStore::open(dir_.path() / "no" / "such" / kStoreFileName, Access::Create);
  ASSERT_FALSE(nodir);
  EXPECT_NE(nodir.error().find("cannot write in"), std::string::npos) << nodir.error();
}

}  // namespace
}  // namespace rcptwatch::learn
