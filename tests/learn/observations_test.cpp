// ObservationBatch: what a finished transaction contributes (replies, normalisation, distinct
// domains and senders), the caps, and merging the batches of several workers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "learn/observations.h"
#include "test_util.h"

namespace rcptwatch::learn {
namespace {

using Recipient = smtp::TransactionEvent::Recipient;

smtp::TransactionEvent transaction(std::string_view mail_from, const std::vector<Recipient>& rcpts,
                                   std::int64_t ts_s = 1'700'000'000) {
  smtp::TransactionEvent t;
  t.ts = Timestamp::from_seconds(ts_s);
  t.mail_from = mail_from;
  t.recipients = rcpts;
  return t;
}

void expect_seen(const DomainObservation* d, std::uint64_t messages, std::size_t senders, std::int64_t first_s,
                 std::int64_t last_s) {
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->messages, messages);
  EXPECT_EQ(d->senders.size(), senders);
  EXPECT_EQ(d->first_seen, Timestamp::from_seconds(first_s));
  EXPECT_EQ(d->last_seen, Timestamp::from_seconds(last_s));
}

TEST(Observations, AcceptedRepliesOnlyAndUnknownCounts) {
  ObservationBatch b;
  const std::vector<Recipient> rcpts{{"a@ok.example", "ok.example", 250},
                                     {"b@rejected.example", "rejected.example", 550},
                                     {"c@later.example", "later.example", 451},
                                     {"d@unseen.example", "unseen.example", std::nullopt},
                                     {"e@accepted.example", "accepted.example", 251}};
  b.add(transaction("alice@example.org", rcpts));
  EXPECT_NE(b.find("ok.example"), nullptr);
  EXPECT_NE(b.find("unseen.example"), nullptr);
  EXPECT_NE(b.find("accepted.example"), nullptr);
  EXPECT_EQ(b.find("rejected.example"), nullptr);
  EXPECT_EQ(b.find("later.example"), nullptr);
  EXPECT_EQ(b.counters().recipients, 3u);
  EXPECT_EQ(b.counters().recipients_rejected, 2u);
  EXPECT_EQ(b.counters().transactions, 1u);
}

TEST(Observations, OneMessagePerDomainPerTransaction) {
  ObservationBatch b;
  const std::vector<Recipient> rcpts{{"a@partner.example", "partner.example", 250},
                                     {"b@PARTNER.example.", "PARTNER.example.", 250},
                                     {"c@other.example", "other.example", 250}};
  b.add(transaction("alice@example.org", rcpts, 100));
  b.add(transaction("bob@example.org", rcpts, 50));
  expect_seen(b.find("partner.example"), 2, 2, 50, 100);
  EXPECT_EQ(b.counters().recipients, 6u);
  EXPECT_EQ(b.size(), 2u);
}

TEST(Observations, SameSenderInAnyCaseIsOneSender) {
  ObservationBatch b;
  const std::vector<Recipient> rcpts{{"a@partner.example", "partner.example", 250}};
  b.add(transaction("Alice@Example.org", rcpts));
  b.add(transaction("alice@example.org", rcpts));
  EXPECT_EQ(b.find("partner.example")->senders.size(), 1u);
  EXPECT_EQ(b.find("partner.example")->messages, 2u);
}

TEST(Observations, NullSenderCountsAMessageButNoSender) {
  ObservationBatch b;
  const std::vector<Recipient> rcpts{{"a@partner.example", "partner.example", 250}};
  b.add(transaction("", rcpts));
  EXPECT_EQ(b.find("partner.example")->messages, 1u);
  EXPECT_TRUE(b.find("partner.example")->senders.empty());
}

TEST(Observations, NamesThatCannotBeLearned) {
  EXPECT_EQ(learnable_domain("Partner-Firm.Example."), "partner-firm.example");
  EXPECT_EQ(learnable_domain("bücher.example"), "xn--bcher-kva.example");
  for (const char* bad : {"", "localhost", "[192.0.2.1]", "[IPv6:2001:db8::1]", "a..b", "-bad.example"}) {
    EXPECT_EQ(learnable_domain(bad), "") << bad;
  }
  ObservationBatch b;
  const std::vector<Recipient> rcpts{{"postmaster@[192.0.2.1]", "[192.0.2.1]", 250},
                                     {"root@localhost", "localhost", 250}};
  b.add(transaction("alice@example.org", rcpts));
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.counters().invalid_domains, 2u);
  EXPECT_EQ(b.counters().transactions, 0u);
}

TEST(Observations, SendersAreCappedPerDomain) {
  ObservationBatch b;
  for (int i = 0; i < 100; ++i) {
    b.add_domain("partner.example", sender_hash("s" + std::to_string(i) + "@example.org"), true, Timestamp{i});
  }
  EXPECT_EQ(b.find("partner.example")->senders.size(), kMaxSendersPerDomain);
  EXPECT_EQ(b.find("partner.example")->messages, 100u);
}

TEST(Observations, DomainsAreCappedPerBatch) {
  ObservationBatch b(2);
  for (const char* d : {"a.example", "b.example", "c.example", "a.example"}) b.add_domain(d, 1, true, Timestamp{1});
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.find("c.example"), nullptr);
  EXPECT_EQ(b.find("a.example")->messages, 2u);
  EXPECT_EQ(b.counters().domains_over_cap, 1u);
}

TEST(Observations, MergeSumsCountsAndJoinsSenders) {
  ObservationBatch a;
  ObservationBatch b;
  testing::add_messages(a, "partner.example", 3, {"x@example.org", "y@example.org"}, 100);
  testing::add_messages(b, "partner.example", 2, {"y@example.org", "z@example.org"}, 10);
  testing::add_messages(b, "only-b.example", 1, {"z@example.org"}, 500);
  ObservationBatch merged;
  merged.merge(a);
  merged.merge(b);
  expect_seen(merged.find("partner.example"), 5, 3, 10, 102);
  EXPECT_EQ(merged.find("only-b.example")->messages, 1u);
  // Sorted by domain, whatever the hash order.
  const auto sorted = merged.sorted();
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_EQ(*sorted[0].domain, "only-b.example");
  EXPECT_EQ(*sorted[1].domain, "partner.example");
}

}  // namespace
}  // namespace rcptwatch::learn
