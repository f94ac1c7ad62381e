// Tests of the SMTP session state machine: scripted dialogues (client bytes, server bytes,
// gaps) replayed whole, split at every byte boundary and byte by byte, with the recipient and
// transaction events compared against what a reader of the dialogue expects.
#include "smtp/session.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace rcptwatch::smtp {
namespace {

using std::nullopt;
using std::optional;

struct Rcpt {
  std::string helo;
  std::string mail_from;
  std::string rcpt_to;
  std::string domain;
  optional<int> reply;
  std::uint32_t transaction;
  bool operator==(const Rcpt&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Rcpt& r) {
  return os << "{helo=" << r.helo << " from=" << r.mail_from << " to=" << r.rcpt_to
            << " domain=" << r.domain << " reply=" << (r.reply ? std::to_string(*r.reply) : "-")
            << " txn=" << r.transaction << "}";
}

struct TxnRcpt {
  std::string address;
  std::string domain;
  optional<int> reply;
  bool operator==(const TxnRcpt&) const = default;
};

struct Txn {
  std::uint32_t number;
  std::string mail_from;
  std::vector<TxnRcpt> recipients;
  bool tls;
  bool operator==(const Txn&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Txn& t) {
  os << "{txn=" << t.number << " from=" << t.mail_from << " tls=" << t.tls << " rcpts=[";
  for (const auto& r : t.recipients) {
    os << r.address << "/" << r.domain << "/" << (r.reply ? std::to_string(*r.reply) : "-")
       << " ";
  }
  return os << "]}";
}

class Recorder : public SmtpObserver {
 public:
  void on_recipient(const RecipientEvent& e) override {
    rcpts.push_back(Rcpt{std::string(e.helo), std::string(e.mail_from), std::string(e.rcpt_to),
                         std::string(e.domain), e.reply, e.transaction});
    rcpt_times.push_back(e.ts.usec);
  }
  void on_transaction(const TransactionEvent& e) override {
    Txn t{e.transaction, std::string(e.mail_from), {}, e.tls};
    for (const auto& r : e.recipients) {
      t.recipients.push_back({std::string(r.address), std::string(r.domain), r.reply});
    }
    txns.push_back(std::move(t));
  }
  void on_tls(Timestamp) override { ++tls_calls; }

  std::vector<Rcpt> rcpts;
  std::vector<std::int64_t> rcpt_times;
  std::vector<Txn> txns;
  int tls_calls = 0;
};

enum class Dir { Client, Server, ClientGap, ServerGap };

struct Step {
  Dir dir;
  std::string bytes;
  std::uint64_t gap = 0;
};

Step C(std::string s) { return {Dir::Client, std::move(s), 0}; }
Step S(std::string s) { return {Dir::Server, std::move(s), 0}; }
Step CGap(std::uint64_t n) { return {Dir::ClientGap, {}, n}; }
Step SGap(std::uint64_t n) { return {Dir::ServerGap, {}, n}; }

// Returns the cut positions for the data of step `index` (empty: deliver whole).
using Splitter = std::function<std::vector<std::size_t>(std::size_t index, std::size_t size)>;

struct Outcome {
  std::vector<Rcpt> rcpts;
  std::vector<std::int64_t> rcpt_times;
  std::vector<Txn> txns;
  int tls_calls = 0;
  SmtpCounters counters;
  ServerCapabilities caps;
};

Bytes bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Outcome run(const std::vector<Step>& script, const Splitter& split = {}, SmtpLimits limits = {},
            bool close = true) {
  Recorder recorder;
  Outcome out;
  {
    SmtpSession session(limits, recorder, out.counters);
    for (std::size_t i = 0; i < script.size(); ++i) {
      const Step& step = script[i];
      const Timestamp ts{static_cast<std::int64_t>(i) * 1000};
      if (step.dir == Dir::ClientGap) {
        session.on_client_gap(step.gap, ts);
        continue;
      }
      if (step.dir == Dir::ServerGap) {
        session.on_server_gap(step.gap, ts);
        continue;
      }
      std::vector<std::size_t> cuts = split ? split(i, step.bytes.size()) : std::vector<std::size_t>{};
      cuts.push_back(step.bytes.size());
      std::size_t begin = 0;
      for (const std::size_t cut : cuts) {
        if (cut <= begin) continue;
        const std::string_view chunk = std::string_view(step.bytes).substr(begin, cut - begin);
        // Copy into a buffer of its own so a view kept past the call would be caught by ASan.
        const std::string owned(chunk);
        if (step.dir == Dir::Client) session.on_client_data(bytes_of(owned), ts);
        else session.on_server_data(bytes_of(owned), ts);
        begin = cut;
      }
    }
    if (close) session.on_close(Timestamp{999'999});
    out.caps = session.capabilities();
  }
  out.rcpts = recorder.rcpts;
  out.rcpt_times = recorder.rcpt_times;
  out.txns = recorder.txns;
  out.tls_calls = recorder.tls_calls;
  return out;
}

Splitter one_byte_chunks() {
  return [](std::size_t, std::size_t size) {
    std::vector<std::size_t> cuts;
    for (std::size_t k = 1; k < size; ++k) cuts.push_back(k);
    return cuts;
  };
}

// A pipelined two-sided dialogue with a DATA transaction, a BDAT transaction and an aborted one.
const std::string kBdatContent = "RCPT TO:<bdat@body.example>\r\nQUIT\r\n";

std::vector<Step> full_dialogue() {
  return {
      S("220 mx.example ESMTP\r\n"),
      C("EHLO client.example\r\n"),
      S("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-CHUNKING\r\n"
        "250-SMTPUTF8\r\n250 STARTTLS\r\n"),
      C("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@army.ml>\r\n"
        "RCPT TO:<\"john doe\"@army.ml> NOTIFY=NEVER ORCPT=rfc822;x@orcpt.example\r\n"
        "rcpt to: <nobody@example.mil>\r\nDATA\r\n"),
      S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n"
        "354 go ahead\r\n"),
      C("Subject: hi\r\n\r\nRCPT TO:<evil@body.example>\r\n..leading dot\r\n.\r\n"),
      S("250 2.0.0 queued\r\n"),
      C("MAIL FROM:<>\r\nRCPT TO:<carol@nat0.int>\r\nBDAT " +
        std::to_string(kBdatContent.size()) + "\r\n" + kBdatContent +
        "BDAT 0 LAST\r\n"),
      S("250 ok\r\n250 ok\r\n250 chunk ok\r\n250 last\r\n"),
      C("MAIL FROM:<d@e.example>\r\nRCPT TO:<dave@army.ml.>\r\nRSET\r\n"),
      S("250 ok\r\n451 try later\r\n250 ok\r\n"),
      C("QUIT\r\n"),
      S("221 bye\r\n"),
  };
}

const std::vector<Rcpt> kFullExpected{
    {"client.example", "alice@example.org", "bob@army.ml", "army.ml", 250, 1},
    {"client.example", "alice@example.org", "\"john doe\"@army.ml", "army.ml", 250, 1},
    {"client.example", "alice@example.org", "nobody@example.mil", "example.mil", 550, 1},
    {"client.example", "", "carol@nat0.int", "nat0.int", 250, 2},
    {"client.example", "d@e.example", "dave@army.ml.", "army.ml", 451, 3},
};

const std::vector<Txn> kFullTransactions{
    {1,
     "alice@example.org",
     {{"bob@army.ml", "army.ml", 250},
      {"\"john doe\"@army.ml", "army.ml", 250},
      {"nobody@example.mil", "example.mil", 550}},
     false},
    {2, "", {{"carol@nat0.int", "nat0.int", 250}}, false},
    {3, "d@e.example", {{"dave@army.ml.", "army.ml", 451}}, false},
};

TEST(SmtpSession, FullDialogueWhole) {
  const Outcome out = run(full_dialogue());
  EXPECT_EQ(out.rcpts, kFullExpected);
  EXPECT_EQ(out.txns, kFullTransactions);
  EXPECT_EQ(out.counters.sessions, 1u);
  EXPECT_EQ(out.counters.transactions, 3u);
  EXPECT_EQ(out.counters.recipients, 5u);
  EXPECT_EQ(out.counters.unknown_commands, 0u);
  EXPECT_EQ(out.counters.unmatched_replies, 0u);
  EXPECT_EQ(out.counters.malformed_replies, 0u);
  EXPECT_EQ(out.counters.bdat_chunks, 2u);
  EXPECT_EQ(out.counters.data_bytes_skipped,
            std::string("Subject: hi\r\n\r\nRCPT TO:<evil@body.example>\r\n..leading dot\r\n.\r\n")
                    .size() +
                kBdatContent.size());
  // Each recipient carries the time of the packet holding its RCPT command.
  EXPECT_EQ(out.rcpt_times, (std::vector<std::int64_t>{3000, 3000, 3000, 7000, 9000}));
  EXPECT_TRUE(out.caps.pipelining);
  EXPECT_TRUE(out.caps.chunking);
  EXPECT_TRUE(out.caps.smtputf8);
  EXPECT_TRUE(out.caps.starttls);
  EXPECT_TRUE(out.caps.size);
  EXPECT_EQ(out.caps.size_limit, 10240000u);
  EXPECT_FALSE(out.caps.dsn);
}

TEST(SmtpSession, FullDialogueSplitAtEveryByteOfEveryStep) {
  const auto script = full_dialogue();
  for (std::size_t target = 0; target < script.size(); ++target) {
    for (std::size_t k = 1; k < script[target].bytes.size(); ++k) {
      const Outcome out = run(script, [&](std::size_t index, std::size_t) {
        return index == target ? std::vector<std::size_t>{k} : std::vector<std::size_t>{};
      });
      ASSERT_EQ(out.rcpts, kFullExpected) << "step " << target << " split at " << k;
      ASSERT_EQ(out.txns, kFullTransactions) << "step " << target << " split at " << k;
    }
  }
}

TEST(SmtpSession, FullDialogueInOneByteChunks) {
  const Outcome out = run(full_dialogue(), one_byte_chunks());
  EXPECT_EQ(out.rcpts, kFullExpected);
  EXPECT_EQ(out.txns, kFullTransactions);
  EXPECT_EQ(out.counters.unmatched_replies, 0u);
  EXPECT_TRUE(out.caps.pipelining);
}

// The whole client stream as one chunk split at k, the whole server stream delivered before
// close: a client-only view of the same dialogue, for every k.
TEST(SmtpSession, ClientStreamSplitAtEveryPositionIsOneSided) {
  std::string client;
  for (const auto& step : full_dialogue()) {
    if (step.dir == Dir::Client) client += step.bytes;
  }
  std::vector<Rcpt> expected = kFullExpected;
  for (auto& r : expected) r.reply = nullopt;
  for (std::size_t k = 0; k <= client.size(); ++k) {
    std::vector<Step> script{C(client.substr(0, k)), C(client.substr(k))};
    const Outcome out = run(script);
    ASSERT_EQ(out.rcpts, expected) << "split at " << k;
    ASSERT_EQ(out.txns.size(), 3u);
  }
}

TEST(SmtpSession, OneSidedReportsRecipientsBeforeClose) {
  const std::vector<Step> script{
      C("EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@army.ml>\r\n"
        "RCPT TO:<y@nat0.int>\r\nDATA\r\nhello\r\n.\r\n"),
  };
  const Outcome out = run(script, {}, {}, /*close=*/false);
  const std::vector<Rcpt> expected{{"c.example", "a@example.org", "x@army.ml", "army.ml", nullopt, 1},
                                   {"c.example", "a@example.org", "y@nat0.int", "nat0.int", nullopt, 1}};
  EXPECT_EQ(out.rcpts, expected);
  EXPECT_EQ(out.txns.size(), 1u);
  EXPECT_EQ(out.counters.one_sided_sessions, 1u);
}

TEST(SmtpSession, OneSidedLaterRecipientsReportedImmediately) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\nx\r\n.\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<two@army.ml>\r\n"),
  };
  const Outcome out = run(script, {}, {}, /*close=*/false);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.rcpts[1].reply, nullopt);
  EXPECT_EQ(out.rcpts[1].transaction, 2u);
}

TEST(SmtpSession, OneSidedServerBytesAfterDeclarationAreIgnored) {
  const std::string late = "220 late\r\n250 ok\r\n";
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nQUIT\r\n"),
      S(late),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, nullopt);
  EXPECT_EQ(out.counters.server_bytes_ignored, late.size());
}

TEST(SmtpSession, CloseReportsUnansweredRecipients) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nRCPT TO:<two@army.ml>\r\n"),
      S("250 ok\r\n250 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(250));
  EXPECT_EQ(out.rcpts[1].reply, nullopt);
  ASSERT_EQ(out.txns.size(), 1u);
  EXPECT_EQ(out.txns[0].recipients[1].reply, nullopt);
}

TEST(SmtpSession, NoEventsWithoutCloseWhileRepliesMayStillCome) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\n"),
  };
  const Outcome out = run(script, {}, {}, /*close=*/false);
  EXPECT_TRUE(out.rcpts.empty());
}

TEST(SmtpSession, GroupedRepliesForPipelinedCommands) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("EHLO c\r\n"),
      S("250-hi\r\n250 PIPELINING\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@x.example>\r\nRCPT TO:<r2@y.example>\r\n"
        "RCPT TO:<r3@z.example>\r\nRSET\r\n"),
      S("250 ok\r\n550 no\r\n251 forwarded\r\n452 too many\r\n250 reset\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 3u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(251));
  EXPECT_EQ(out.rcpts[2].reply, optional<int>(452));
  EXPECT_EQ(out.counters.unmatched_replies, 0u);
}

TEST(SmtpSession, MultilineRcptReplyTakesTheLastLineCode) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@x.example>\r\n"),
      S("250 ok\r\n550-5.1.1 first line\r\n550-5.1.1 second\r\n550 5.1.1 last\r\n"),
  };
  const Outcome out = run(script, one_byte_chunks());
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
}

TEST(SmtpSession, MissingGreetingDoesNotShiftReplies) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\n"),
      S("250 ok\r\n"),
      C("RCPT TO:<r1@x.example>\r\n"),
      S("550 no\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
}

TEST(SmtpSession, DataBodyLinesAreNeverCommands) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<real@army.ml>\r\nDATA\r\n"
        "RCPT TO:<x@army.ml>\r\nMAIL FROM:<y@z.example>\r\n.RCPT TO:<dot@army.ml>\r\n"
        "..\r\n. \r\n.x\r\n.\r\r\nRCPT TO:<crcr@army.ml>\r\n.\r\n"
        "RCPT TO:<after@army.ml>\r\n"),
  };
  const Outcome out = run(script, one_byte_chunks());
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].rcpt_to, "real@army.ml");
  EXPECT_EQ(out.rcpts[1].rcpt_to, "after@army.ml");
  EXPECT_EQ(out.rcpts[1].transaction, 2u);  // implicit: no MAIL after the body
  EXPECT_EQ(out.counters.rcpt_without_mail, 1u);
}

struct BodySplitCase {
  std::string first;
  std::string second;
};

class BodyEndSplit : public ::testing::TestWithParam<BodySplitCase> {};

TEST_P(BodyEndSplit, EndMarkerFoundAcrossChunks) {
  const auto& c = GetParam();
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\n"),
      S("250 ok\r\n250 ok\r\n354 go\r\n"),
      C(c.first),
      C(c.second),
      S("250 queued\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<two@army.ml>\r\n"),
      S("250 ok\r\n251 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(251));
  EXPECT_EQ(out.counters.unmatched_replies, 0u);
}

INSTANTIATE_TEST_SUITE_P(Splits, BodyEndSplit,
                         ::testing::Values(BodySplitCase{"body\r\n.", "\r\n"},
                                           BodySplitCase{"body\r\n", ".\r\n"},
                                           BodySplitCase{"body\r", "\n.\r\n"},
                                           BodySplitCase{"body\r\n.\r", "\n"},
                                           BodySplitCase{"", "body\r\n.\r\n"},
                                           BodySplitCase{".", "\r\n"},
                                           BodySplitCase{"body\n", ".\n"}));

TEST(SmtpSession, BodyEndMustBeAtLineStart) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\n"
        "x.\r\nRCPT TO:<no1@army.ml>\r\n.y\r\nRCPT TO:<no2@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].rcpt_to, "one@army.ml");
}

TEST(SmtpSession, RejectedDataReturnsToCommandMode) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\n"),
      S("250 ok\r\n550 no\r\n554 no valid recipients\r\n"),
      C("RSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<two@army.ml>\r\n"),
      S("250 ok\r\n250 ok\r\n250 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(250));
  EXPECT_EQ(out.counters.data_rejected_after_body, 0u);
}

TEST(SmtpSession, BdatContentThatLooksLikeCommandsIsSkipped) {
  const std::string content = "RCPT TO:<hidden@army.ml>\r\nDATA\r\n.\r\nQUIT\r\n";
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nBDAT " +
        std::to_string(content.size()) + " LAST\r\n" + content +
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<two@army.ml>\r\n"),
      S("250 ok\r\n250 ok\r\n250 done\r\n250 ok\r\n250 ok\r\n"),
  };
  for (const bool bytewise : {false, true}) {
    const Outcome out = run(script, bytewise ? one_byte_chunks() : Splitter{});
    ASSERT_EQ(out.rcpts.size(), 2u);
    EXPECT_EQ(out.rcpts[0].rcpt_to, "one@army.ml");
    EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
    EXPECT_EQ(out.rcpts[1].reply, optional<int>(250));
    EXPECT_EQ(out.rcpts[1].transaction, 2u);
    ASSERT_EQ(out.txns.size(), 2u);
    EXPECT_EQ(out.counters.data_bytes_skipped, content.size());
  }
}

TEST(SmtpSession, BdatHugeSizeSkipsEverythingWithoutOverflow) {
  const std::string chunk1 = std::string(100000, 'x') + "\r\nRCPT TO:<inside@army.ml>\r\n";
  const std::string chunk2 = "RCPT TO:<inside2@army.ml>\r\n";
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nBDAT 9223372036854775808\r\n"),
      C(chunk1),
      CGap(1ull << 62),
      C(chunk2),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].rcpt_to, "one@army.ml");
  EXPECT_EQ(out.counters.data_bytes_skipped, chunk1.size() + chunk2.size());
}

TEST(SmtpSession, BdatMaxSizeAndOverflowingSize) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nBDAT 18446744073709551616\r\nRCPT TO:<x@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  // The size is unusable: the session resynchronises and takes the next valid command.
  EXPECT_EQ(out.counters.malformed_commands, 1u);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.counters.resyncs, 1u);
}

TEST(SmtpSession, BdatGapInsideChunkKeepsExactCount) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nBDAT 20 LAST\r\n12345"),
      CGap(10),
      C("67890RCPT TO:<two@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.counters.resyncs, 0u);
}

TEST(SmtpSession, BdatGapPastChunkEndResynchronises) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nBDAT 10 LAST\r\n12345"),
      CGap(30),
      C("ail.example>\r\nRCPT TO:<two@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.counters.resyncs, 1u);
  EXPECT_EQ(out.counters.resync_skipped_lines, 1u);
}

TEST(SmtpSession, StarttlsAcceptedStopsParsing) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("EHLO c\r\n"),
      S("250-hi\r\n250 STARTTLS\r\n"),
      C("STARTTLS\r\n"),
      S("220 2.0.0 Ready to start TLS\r\n"),
      C(std::string("\x16\x03\x01\x00\x05hello", 10) + "\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@army.ml>\r\n"),
      S(std::string("\x16\x03\x03\x00\x02hi", 7)),
      C("RCPT TO:<y@army.ml>\r\n"),
  };
  for (const bool bytewise : {false, true}) {
    const Outcome out = run(script, bytewise ? one_byte_chunks() : Splitter{});
    EXPECT_TRUE(out.rcpts.empty());
    EXPECT_EQ(out.tls_calls, 1);
    EXPECT_EQ(out.counters.tls_sessions, 1u);
  }
}

TEST(SmtpSession, StarttlsAcceptedClosesOpenTransactionAsTls) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\nSTARTTLS\r\n"),
      S("250 ok\r\n250 ok\r\n220 go\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(250));
  ASSERT_EQ(out.txns.size(), 1u);
  EXPECT_TRUE(out.txns[0].tls);
}

TEST(SmtpSession, StarttlsRefusedKeepsParsing) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("STARTTLS\r\n"),
      S("454 4.7.0 TLS not available\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
      S("250 ok\r\n250 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(250));
  EXPECT_EQ(out.tls_calls, 0);
  EXPECT_EQ(out.counters.tls_sessions, 0u);
}

TEST(SmtpSession, StarttlsOneSidedDetectedFromClientHello) {
  const std::vector<Step> script{
      C("EHLO c\r\nSTARTTLS\r\n"),
      C(std::string("\x16\x03\x01\x02\x00", 5) + "RCPT TO:<x@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  EXPECT_TRUE(out.rcpts.empty());
  EXPECT_EQ(out.tls_calls, 1);
}

TEST(SmtpSession, StarttlsWithPlainTextAfterwardsIsNotTls) {
  // A client that sends STARTTLS and (reply unseen) keeps talking in clear text.
  const std::vector<Step> script{
      C("STARTTLS\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.tls_calls, 0);
}

TEST(SmtpSession, RsetAndSeveralTransactions) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("HELO old.example\r\nEHLO new.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<t1@army.ml>\r\nRSET\r\n"
        "MAIL FROM:<c@d.example>\r\nRCPT TO:<t2@army.ml>\r\nMAIL FROM:<e@f.example>\r\n"
        "RCPT TO:<t3@army.ml>\r\nQUIT\r\n"),
      S("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n"
        "250 ok\r\n221 bye\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 3u);
  EXPECT_EQ(out.rcpts[0].transaction, 1u);
  EXPECT_EQ(out.rcpts[1].transaction, 2u);
  EXPECT_EQ(out.rcpts[2].transaction, 3u);
  EXPECT_EQ(out.rcpts[2].mail_from, "e@f.example");
  EXPECT_EQ(out.rcpts[0].helo, "new.example");
  ASSERT_EQ(out.txns.size(), 3u);
  EXPECT_EQ(out.txns[0].number, 1u);
  EXPECT_EQ(out.txns[2].number, 3u);
  EXPECT_EQ(out.counters.transactions, 3u);
}

TEST(SmtpSession, AuthLoginContinuationLinesAreNotCommands) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("AUTH LOGIN\r\n"),
      S("334 VXNlcm5hbWU6\r\n"),
      C("UkNQVA==\r\n"),
      S("334 UGFzc3dvcmQ6\r\n"),
      C("DATA\r\n"),  // a password whose base64 happens to read "DATA"
      S("235 2.7.0 ok\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
      S("250 ok\r\n550 no\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
  EXPECT_EQ(out.counters.auth_lines, 2u);
  EXPECT_EQ(out.counters.commands, 3u);  // AUTH, MAIL, RCPT
  EXPECT_EQ(out.counters.unknown_commands, 0u);
}

TEST(SmtpSession, AuthOneSidedLeavesContinuationModeOnRealCommand) {
  const std::vector<Step> script{
      C("AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.counters.auth_lines, 2u);
  EXPECT_EQ(out.counters.unknown_commands, 0u);
}

TEST(SmtpSession, AuthPlainWithInitialResponseNeedsNoContinuation) {
  const std::vector<Step> script{
      C("AUTH PLAIN AGFsaWNlAHB3\r\nRSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  EXPECT_EQ(out.counters.auth_lines, 0u);
  EXPECT_EQ(out.counters.commands, 4u);
  ASSERT_EQ(out.rcpts.size(), 1u);
}

TEST(SmtpSession, AuthFailureEndsContinuationMode) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("AUTH LOGIN dXNlcg==\r\n"),
      S("334 UGFzc3dvcmQ6\r\n"),
      C("cGFzcw==\r\n"),
      S("535 bad credentials\r\n"),
      C("QUIT\r\n"),  // base64-clean, but AUTH is over: a command
      S("221 bye\r\n"),
  };
  const Outcome out = run(script);
  EXPECT_EQ(out.counters.auth_lines, 1u);
  EXPECT_EQ(out.counters.commands, 2u);
  EXPECT_EQ(out.counters.unmatched_replies, 0u);
}

TEST(SmtpSession, ClientGapThenResync) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nRCPT TO:<tw"),
      CGap(20),
      C("o.example>\r\nRCPT TO:<three@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].rcpt_to, "one@army.ml");
  EXPECT_EQ(out.rcpts[1].rcpt_to, "three@army.ml");
  EXPECT_EQ(out.rcpts[1].transaction, 1u);
  EXPECT_EQ(out.counters.resyncs, 1u);
  EXPECT_EQ(out.counters.resync_skipped_lines, 1u);
  EXPECT_EQ(out.counters.gaps, 1u);
}

TEST(SmtpSession, ClientGapAtLineBoundaryLosesNothingAfter) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\n"),
      CGap(25),
      C("RCPT TO:<after@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.counters.resync_skipped_lines, 0u);
}

TEST(SmtpSession, ClientGapInBodyThenEndMarker) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\nsome body"),
      CGap(500),
      C("more body\r\nRCPT TO:<in-body@army.ml>\r\n.\r\nMAIL FROM:<c@d.example>\r\n"
        "RCPT TO:<two@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.rcpts[1].transaction, 2u);
}

TEST(SmtpSession, ClientGapSwallowsBodyEndThenPlausibleMail) {
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\nsome body"),
      CGap(500),
      C("tail of body\r\nRCPT TO:<in-body@army.ml>\r\nMAIL FROM:<c@d.example>\r\n"
        "RCPT TO:<two@army.ml>\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.counters.resyncs, 1u);
}

TEST(SmtpSession, ClientGapInBodyEndedByServerReply) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\nDATA\r\n"),
      S("250 ok\r\n250 ok\r\n354 go\r\n"),
      C("body"),
      CGap(500),
      S("250 queued\r\n"),
      C("RCPT TO:<two@army.ml>\r\n"),
      S("250 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[1].rcpt_to, "two@army.ml");
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(250));
}

TEST(SmtpSession, ServerGapLosesPendingRepliesThenCorrelatesAgain) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<one@army.ml>\r\n"),
      S("250 ok\r\n25"),
      SGap(100),
      C("RCPT TO:<two@army.ml>\r\n"),
      S("550 no\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].reply, nullopt);
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(550));
}

TEST(SmtpSession, LineCapTruncatesAndDoesNotReportCutAddress) {
  SmtpLimits limits;
  limits.max_line_bytes = 64;
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<" + std::string(100, 'u') + "@army.ml>\r\n"
        "RCPT TO:<short@army.ml>\r\n"),
  };
  for (const bool bytewise : {false, true}) {
    const Outcome out = run(script, bytewise ? one_byte_chunks() : Splitter{}, limits);
    ASSERT_EQ(out.rcpts.size(), 1u);
    EXPECT_EQ(out.rcpts[0].rcpt_to, "short@army.ml");
    EXPECT_EQ(out.counters.truncated_lines, 1u);
    EXPECT_EQ(out.counters.malformed_addresses, 1u);
  }
}

TEST(SmtpSession, UnknownCommandsCountedAndStillAnswered) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("XCLIENT NAME=x\r\nFOO\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n"),
      S("500 what\r\n500 what\r\n250 ok\r\n550 no\r\n"),
  };
  const Outcome out = run(script);
  EXPECT_EQ(out.counters.unknown_commands, 2u);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
}

TEST(SmtpSession, MalformedRcptNotReportedButKeepsCorrelation) {
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<bad@\r\nRCPT TO:<>\r\nRCPT TO:<good@army.ml>\r\n"),
      S("250 ok\r\n501 syntax\r\n501 syntax\r\n250 ok\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 1u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(250));
  EXPECT_EQ(out.counters.malformed_addresses, 2u);
}

TEST(SmtpSession, RecipientLimitBoundsTransactionButReportsAll) {
  SmtpLimits limits;
  limits.max_recipients_per_transaction = 2;
  const std::vector<Step> script{
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@x.example>\r\nRCPT TO:<r2@x.example>\r\n"
        "RCPT TO:<r3@army.ml>\r\nDATA\r\nbody\r\n.\r\n"),
  };
  const Outcome out = run(script, {}, limits);
  EXPECT_EQ(out.rcpts.size(), 3u);
  ASSERT_EQ(out.txns.size(), 1u);
  EXPECT_EQ(out.txns[0].recipients.size(), 2u);
  EXPECT_EQ(out.counters.recipients_over_limit, 1u);
}

// Recipients over the limit are not kept in the transaction, so their pending command holds
// the only copy of the address: it must still be reported whole, with its reply.
TEST(SmtpSession, RecipientOverLimitReportedWithItsReply) {
  SmtpLimits limits;
  limits.max_recipients_per_transaction = 1;
  const std::vector<Step> script{
      S("220 mx\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@x.example>\r\nRCPT TO:<r2@army.ml>\r\n"),
      S("250 ok\r\n250 ok\r\n550 no\r\n"),
      C("QUIT\r\n"),
  };
  const Outcome out = run(script, {}, limits);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0], (Rcpt{"", "a@b.example", "r1@x.example", "x.example", 250, 1}));
  EXPECT_EQ(out.rcpts[1], (Rcpt{"", "a@b.example", "r2@army.ml", "army.ml", 550, 1}));
  ASSERT_EQ(out.txns.size(), 1u);
  EXPECT_EQ(out.txns[0].recipients, (std::vector<TxnRcpt>{{"r1@x.example", "x.example", 250}}));
}

// A script without gaps, each step whole, timed as run() times it; then the close.
void play_whole(SmtpSession& session, const std::vector<Step>& script) {
  for (std::size_t i = 0; i < script.size(); ++i) {
    const Step& step = script[i];
    const Timestamp ts{static_cast<std::int64_t>(i) * 1000};
    if (step.dir == Dir::Client) session.on_client_data(bytes_of(step.bytes), ts);
    else session.on_server_data(bytes_of(step.bytes), ts);
  }
  session.on_close(Timestamp{999'999});
}

// A session made in the queues of a closed one (what a pipeline does for every connection)
// reports exactly what a fresh one does, whatever the first left behind: recipients waiting
// for replies, transactions still open, a recipient over the limit, a helo.
TEST(SmtpSession, SessionInASparesQueuesActsAsAFreshOne) {
  SmtpLimits limits;
  limits.max_recipients_per_transaction = 3;
  std::string rcpts;  // one over the limit, none answered
  for (int i = 1; i <= 4; ++i) rcpts += "RCPT TO:<o" + std::to_string(i) + "@old.example>\r\n";
  const std::vector<Step> leftover{
      S("220 old.example\r\n"), C("EHLO old-client.example\r\nMAIL FROM:<old@old.example>\r\n"),
      S("250 ok\r\n250 ok\r\n"),
      C(rcpts + "MAIL FROM:<again@old.example>\r\nRCPT TO:<o5@old.example>\r\n")};
  Recorder first;
  SmtpCounters counters;
  SmtpSession::Spare spare;
  {
    SmtpSession old(limits, first, counters);
    play_whole(old, leftover);
    spare = std::move(old).release();
  }
  ASSERT_TRUE(spare);
  EXPECT_EQ(first.rcpts.size(), 5u);

  const Outcome fresh = run(full_dialogue(), {}, limits);
  Recorder second;
  SmtpCounters recycled_counters;
  {
    SmtpSession session(limits, second, recycled_counters, std::move(spare));
    play_whole(session, full_dialogue());
  }
  EXPECT_EQ(second.rcpts, fresh.rcpts);
  EXPECT_EQ(second.rcpt_times, fresh.rcpt_times);
  EXPECT_EQ(second.txns, fresh.txns);
  EXPECT_EQ(recycled_counters.sessions, 1u);
  EXPECT_EQ(recycled_counters.recipients, fresh.counters.recipients);
  EXPECT_EQ(recycled_counters.transactions, fresh.counters.transactions);
  EXPECT_EQ(recycled_counters.replies, fresh.counters.replies);
  EXPECT_EQ(recycled_counters.unmatched_replies, fresh.counters.unmatched_replies);
}

// A session whose queues grew past kMaxSpareBytes (a flood of pipelined commands) leaves
// nothing to reuse: what a pipeline keeps stays small.
TEST(SmtpSession, FloodedSessionLeavesNoSpare) {
  Recorder recorder;
  SmtpCounters counters;
  SmtpSession session({}, recorder, counters);
  session.on_server_data(bytes_of("220 mx\r\n"), Timestamp{1});
  std::string flood = "MAIL FROM:<a@b.example>\r\n";
  for (int i = 0; i < 500; ++i) flood += "NOOP\r\n";
  session.on_client_data(bytes_of(flood), Timestamp{1});
  session.on_close(Timestamp{2});
  EXPECT_FALSE(std::move(session).release());
}

TEST(SmtpSession, PendingCapWithoutServerDeclaresOneSided) {
  SmtpLimits limits;
  limits.max_pending_commands = 4;
  std::string client = "MAIL FROM:<a@b.example>\r\n";
  for (int i = 0; i < 10; ++i) client += "RCPT TO:<r" + std::to_string(i) + "@army.ml>\r\n";
  const Outcome out = run({C(client)}, {}, limits, /*close=*/false);
  EXPECT_EQ(out.rcpts.size(), 10u);
  EXPECT_EQ(out.counters.one_sided_sessions, 1u);
}

TEST(SmtpSession, PendingCapWithServerEvictsOldestAndRealigns) {
  SmtpLimits limits;
  limits.max_pending_commands = 3;
  const std::vector<Step> script{
      S("220 hi\r\n"),
      C("MAIL FROM:<a@b.example>\r\nRCPT TO:<r1@army.ml>\r\nRCPT TO:<r2@army.ml>\r\n"
        "RCPT TO:<r3@army.ml>\r\n"),
      S("250 ok\r\n550 r1\r\n551 r2\r\n552 r3\r\n"),
  };
  const Outcome out = run(script, {}, limits);
  ASSERT_EQ(out.rcpts.size(), 3u);
  EXPECT_EQ(out.counters.pending_overflow, 1u);
  // MAIL was evicted (its reply skipped); the recipients still get their own replies.
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(550));
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(551));
  EXPECT_EQ(out.rcpts[2].reply, optional<int>(552));
}

TEST(SmtpSession, BareLfDialogue) {
  const std::vector<Step> script{
      S("220 hi\n"),
      C("HELO c\nMAIL FROM:<a@b.example>\nRCPT TO:<x@army.ml>\nDATA\n"),
      S("250 ok\n250 ok\n250 ok\n354 go\n"),
      C("body\n.\nRCPT TO:<y@army.ml>\n"),
      S("250 queued\n550 no\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 2u);
  EXPECT_EQ(out.rcpts[0].reply, optional<int>(250));
  EXPECT_EQ(out.rcpts[1].reply, optional<int>(550));
}

TEST(SmtpSession, GrammarVariantsReachTheEvent) {
  const std::vector<Step> script{
      C("MAIL FROM: <a@b.example>\r\n"
        "RCPT TO:<@relay.example:src@army.ml>\r\n"
        "RCPT TO:user@[192.0.2.1]\r\n"
        "RCPT TO:<\"a>b@c\"@Army.ML>\r\n"
        "RCPT TO:<δοκιμή@παράδειγμα.δοκιμή> NOTIFY=NEVER\r\n"
        "RCPT TO:<x@nat0.int.> ORCPT=rfc822;boss@nato.int\r\n"),
  };
  const Outcome out = run(script);
  ASSERT_EQ(out.rcpts.size(), 5u);
  EXPECT_EQ(out.rcpts[0].rcpt_to, "src@army.ml");
  EXPECT_EQ(out.rcpts[1].domain, "[192.0.2.1]");
  EXPECT_EQ(out.rcpts[2].domain, "Army.ML");
  EXPECT_EQ(out.rcpts[3].domain, "παράδειγμα.δοκιμή");
  EXPECT_EQ(out.rcpts[4].rcpt_to, "x@nat0.int.");
  EXPECT_EQ(out.rcpts[4].domain, "nat0.int");
  for (const auto& r : out.rcpts) EXPECT_NE(r.domain, "nato.int");
}

TEST(SmtpSession, NothingAfterClose) {
  Recorder recorder;
  SmtpCounters counters;
  SmtpSession session({}, recorder, counters);
  session.on_close(Timestamp{1});
  const std::string data = "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n";
  session.on_client_data(bytes_of(data), Timestamp{2});
  session.on_close(Timestamp{3});
  EXPECT_TRUE(recorder.rcpts.empty());
  EXPECT_EQ(counters.commands, 0u);
}

TEST(SmtpSession, CountersAreSharedAcrossSessions) {
  Recorder recorder;
  SmtpCounters counters;
  for (int i = 0; i < 3; ++i) {
    SmtpSession session({}, recorder, counters);
    const std::string data = "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@army.ml>\r\n";
    session.on_client_data(bytes_of(data), Timestamp{i});
    session.on_close(Timestamp{i});
  }
  EXPECT_EQ(counters.sessions, 3u);
  EXPECT_EQ(counters.recipients, 3u);
  EXPECT_EQ(recorder.rcpts.size(), 3u);
}

}  // namespace
}  // namespace rcptwatch::smtp

namespace rcptwatch::smtp {
namespace {

TEST(SmtpSessionConflict, RecipientsOfTheOtherCopyAreReportedInContext) {
  Recorder recorder;
  SmtpCounters counters;
  SmtpSession session({}, recorder, counters);
  session.on_server_data(bytes_of("220 hi\r\n"), Timestamp{1});
  session.on_client_data(bytes_of("EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"), Timestamp{2});
  session.on_client_data(bytes_of("RCPT TO:<ok@example.com>\r\n"), Timestamp{3});
  session.on_client_conflict(bytes_of("RCPT TO:<bobbie@army.ml>\r\n"), Timestamp{4});
  ASSERT_EQ(recorder.rcpts.size(), 1u);  // reported at once, reply unknown
  EXPECT_EQ(recorder.rcpts[0],
            (Rcpt{"c.example", "a@b.example", "bobbie@army.ml", "army.ml", nullopt, 1}));
  EXPECT_EQ(counters.conflict_recipients, 1u);
  // The state followed the first copy: its recipient still gets the server's answer.
  session.on_server_data(bytes_of("250 ok\r\n250 ok\r\n250 ok\r\n"), Timestamp{5});
  session.on_close(Timestamp{6});
  ASSERT_EQ(recorder.rcpts.size(), 2u);
  EXPECT_EQ(recorder.rcpts[1].rcpt_to, "ok@example.com");
  EXPECT_EQ(recorder.rcpts[1].reply, optional<int>(250));
}

TEST(SmtpSessionConflict, PartialLinesAndNonRcptLinesAreIgnored) {
  Recorder recorder;
  SmtpCounters counters;
  SmtpSession session({}, recorder, counters);
  session.on_client_conflict(bytes_of("mple.com>\r\nNOOP\r\nMAIL FROM:<x@army.ml>\r\nRCPT TO:<>\r\n"),
                             Timestamp{1});
  EXPECT_TRUE(recorder.rcpts.empty());
  EXPECT_EQ(counters.conflict_recipients, 0u);
}

TEST(SmtpSessionConflict, IgnoredOnceEncrypted) {
  Recorder recorder;
  SmtpCounters counters;
  SmtpSession session({}, recorder, counters);
  session.on_server_data(bytes_of("220 hi\r\n"), Timestamp{1});
  session.on_client_data(bytes_of("STARTTLS\r\n"), Timestamp{2});
  session.on_server_data(bytes_of("220 go ahead\r\n"), Timestamp{3});
  session.on_client_conflict(bytes_of("RCPT TO:<bobbie@army.ml>\r\n"), Timestamp{4});
  EXPECT_TRUE(recorder.rcpts.empty());
}

}  // namespace
}  // namespace rcptwatch::smtp
