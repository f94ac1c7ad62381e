// Micro-benchmarks of the hot path, stage by stage: packet decoder, stream reassembler (in
// order and reordered), SMTP session parser (commands, pipelining, DATA body skipping), and
// the whole pipeline on one session with a counting allocator, which shows that heap
// allocations grow with connections, not with packets. Figures go to docs/PERFORMANCE.md.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "alert/sink.h"
#include "frames.h"
#include "app/pipeline.h"
#include "capture/packet_source.h"
#include "decode/decoder.h"
#include "detect/matcher.h"
#include "detect/rules.h"
#include "reassembly/stream_reassembler.h"
#include "smtp/session.h"

// Counting allocator: every operator new in this process bumps one counter, read around the
// measured regions only.
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// GCC pairs our malloc-based new with the library's delete when it inlines; both are ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

using namespace rcptwatch;

constexpr std::size_t kMss = 1448;

std::vector<std::uint8_t> tcp_frame(std::uint8_t client_host, bool to_server, std::uint32_t seq,
                                    std::uint32_t ack, std::uint8_t flags, std::string_view payload) {
  bench::Endpoints e;
  e.client[3] = client_host;
  return bench::tcp_frame(e, to_server, seq, ack, flags, payload);
}

Bytes bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string body_of(std::size_t size) {
  std::string body = "Subject: figures\r\n\r\n";
  while (body.size() < size) body += "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
  return body + ".\r\n";
}

// --- decoder -------------------------------------------------------------------------------

void BM_DecodeEthernetIpv4Tcp(benchmark::State& state) {
  const auto frame = tcp_frame(1, true, 1000, 2000, 0x18, std::string(kMss, 'x'));
  decode::PacketDecoder decoder;
  decode::TcpSegment seg;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder.decode(1, frame, Timestamp{1}, seg));
    benchmark::DoNotOptimize(seg.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DecodeEthernetIpv4Tcp);

// --- reassembler ---------------------------------------------------------------------------

class CountingSink final : public reassembly::StreamSink {
 public:
  void on_data(Bytes data) override { bytes += data.size(); }
  void on_gap(std::uint64_t length) override { bytes += length; }
  void on_conflict(Bytes, std::uint64_t) override {}
  std::uint64_t bytes = 0;
};

// arg 0: in order; arg 1: every pair of segments swapped (one buffered copy per pair).
void BM_Reassemble(benchmark::State& state) {
  const bool swapped = state.range(0) == 1;
  const std::string payload(kMss, 'y');
  reassembly::ReassemblyLimits limits;
  reassembly::ReassemblyCounters counters;
  reassembly::StreamReassembler r(limits, counters);
  CountingSink sink;
  r.set_initial_sequence(0);
  std::uint32_t seq = 1;
  for (auto _ : state) {
    if (swapped) {
      r.insert(seq + kMss, bytes_of(payload), sink);
      r.insert(seq, bytes_of(payload), sink);
    } else {
      r.insert(seq, bytes_of(payload), sink);
      r.insert(seq + kMss, bytes_of(payload), sink);
    }
    seq += 2 * kMss;
  }
  benchmark::DoNotOptimize(sink.bytes);
  state.SetItemsProcessed(state.iterations() * 2);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 2 * kMss));
}
BENCHMARK(BM_Reassemble)->Arg(0)->Arg(1)->ArgName("swapped");

// --- SMTP parser ---------------------------------------------------------------------------

class NullObserver final : public smtp::SmtpObserver {
 public:
  void on_recipient(const smtp::RecipientEvent& e) override { recipients += e.rcpt_to.size() > 0; }
  std::uint64_t recipients = 0;
};

struct Exchange {
  std::vector<std::string> client;
  std::vector<std::string> server;
};

// One whole session: the client's and the server's bytes in the order they are exchanged.
Exchange session_text(bool pipelined, std::size_t body_size) {
  Exchange x;
  x.server.push_back("220 mx.example.net ESMTP\r\n");
  x.client.push_back("EHLO ws1.corp.example.com\r\n");
  x.server.push_back("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
  const std::string mail = "MAIL FROM:<alice@corp.example.com>\r\n";
  const std::string rcpts[] = {"RCPT TO:<bob@partner.example.org>\r\n", "RCPT TO:<carol@example.net>\r\n"};
  if (pipelined) {
    x.client.push_back(mail + rcpts[0] + rcpts[1] + "DATA\r\n");
    x.server.push_back("250 Ok\r\n250 Ok\r\n250 Ok\r\n354 Go ahead\r\n");
  } else {
    x.client.push_back(mail);
    x.server.push_back("250 Ok\r\n");
    for (const auto& r : rcpts) {
      x.client.push_back(r);
      x.server.push_back("250 Ok\r\n");
    }
    x.client.push_back("DATA\r\n");
    x.server.push_back("354 Go ahead\r\n");
  }
  const std::string body = body_of(body_size);
  for (std::size_t off = 0; off < body.size(); off += kMss) x.client.push_back(body.substr(off, kMss));
  x.server.push_back("250 Ok: queued\r\n");
  x.client.push_back("QUIT\r\n");
  x.server.push_back("221 Bye\r\n");
  return x;
}

// args: pipelined (0/1), body bytes. Items are sessions; bytes are both directions.
void BM_SmtpSession(benchmark::State& state) {
  const Exchange x = session_text(state.range(0) == 1, static_cast<std::size_t>(state.range(1)));
  std::size_t bytes = 0;
  for (const auto& s : x.client) bytes += s.size();
  for (const auto& s : x.server) bytes += s.size();
  NullObserver observer;
  smtp::SmtpCounters counters;
  for (auto _ : state) {
    smtp::SmtpSession session({}, observer, counters);
    std::size_t c = 0;
    std::size_t s = 0;
    while (c < x.client.size() || s < x.server.size()) {  // server first: it greets
      if (s < x.server.size()) session.on_server_data(bytes_of(x.server[s++]), Timestamp{1});
      if (c < x.client.size()) session.on_client_data(bytes_of(x.client[c++]), Timestamp{1});
    }
    session.on_close(Timestamp{2});
  }
  benchmark::DoNotOptimize(observer.recipients);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_SmtpSession)
    ->Args({0, 1000})
    ->Args({1, 1000})
    ->Args({1, 100000})
    ->ArgNames({"pipelined", "body"});

// DATA body skipping alone: 64 KiB chunks of body lines, never the final dot.
void BM_SmtpBodySkip(benchmark::State& state) {
  std::string chunk;
  while (chunk.size() < 65536) chunk += "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
  NullObserver observer;
  smtp::SmtpCounters counters;
  smtp::SmtpSession session({}, observer, counters);
  session.on_server_data(bytes_of("220 mx ESMTP\r\n"), Timestamp{1});
  session.on_client_data(bytes_of("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"), Timestamp{1});
  for (auto _ : state) session.on_client_data(bytes_of(chunk), Timestamp{1});
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_SmtpBodySkip);

// --- whole pipeline, with the allocation count -----------------------------------------------

class NullSink final : public alert::AlertSink {
 public:
  void write_alert(const alert::Alert&) override { ++alerts; }
  void write_event_json(std::string_view) override {}
  void flush() override {}
  std::uint64_t alerts = 0;
};

std::shared_ptr<const detect::Matcher> default_matcher() {
  auto rules = detect::parse_rules("protect mil id=1\nprotect nato.int id=4\n", "bench.rules");
  if (!rules) std::abort();
  return std::make_shared<const detect::Matcher>(*rules);
}

// Frames of one complete session (handshake to FIN) for client 10.0.0.`host`.
std::vector<std::vector<std::uint8_t>> session_frames(std::uint8_t host, std::size_t body_size) {
  const Exchange x = session_text(true, body_size);
  std::vector<std::vector<std::uint8_t>> frames;
  std::uint32_t c = 1000;
  std::uint32_t s = 5000;
  frames.push_back(tcp_frame(host, true, c, 0, 0x02, ""));
  frames.push_back(tcp_frame(host, false, s, c + 1, 0x12, ""));
  ++c;
  ++s;
  frames.push_back(tcp_frame(host, true, c, s, 0x10, ""));
  std::size_t ci = 0;
  std::size_t si = 0;
  while (ci < x.client.size() || si < x.server.size()) {
    if (si < x.server.size()) {
      frames.push_back(tcp_frame(host, false, s, c, 0x18, x.server[si]));
      s += static_cast<std::uint32_t>(x.server[si++].size());
    }
    if (ci < x.client.size()) {
      frames.push_back(tcp_frame(host, true, c, s, 0x18, x.client[ci]));
      c += static_cast<std::uint32_t>(x.client[ci++].size());
    }
  }
  frames.push_back(tcp_frame(host, true, c, s, 0x11, ""));
  frames.push_back(tcp_frame(host, false, s, c + 1, 0x11, ""));
  return frames;
}

// arg: body bytes. Counters: heap allocations per session and per packet; they must not grow
// with the body (more packets, same connections).
void BM_PipelineSession(benchmark::State& state) {
  const auto frames = session_frames(1, static_cast<std::size_t>(state.range(0)));
  NullSink sink;
  app::Pipeline pipeline(app::PipelineConfig{}, default_matcher(), sink);
  std::size_t bytes = 0;
  for (const auto& f : frames) bytes += f.size();
  std::int64_t t = 1'000'000;
  const std::uint64_t before = g_allocations.load();
  for (auto _ : state) {
    for (const auto& f : frames) {
      capture::Packet p;
      p.ts = Timestamp{t += 10};
      p.link_type = 1;
      p.data = f;
      pipeline.process(p);
    }
    t += 20'000'000;  // past the closed-flow timeout: the 4-tuple is reused cleanly
  }
  const double allocations = static_cast<double>(g_allocations.load() - before);
  const auto sessions = static_cast<double>(state.iterations());
  state.counters["allocs_per_session"] = allocations / sessions;
  state.counters["allocs_per_packet"] = allocations / (sessions * static_cast<double>(frames.size()));
  state.counters["packets_per_session"] = static_cast<double>(frames.size());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(frames.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_PipelineSession)->Arg(1000)->Arg(100000)->ArgName("body");

}  // namespace

BENCHMARK_MAIN();
