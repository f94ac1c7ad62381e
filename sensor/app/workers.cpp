// Frame routing, the SPSC frame ring and the worker threads behind --workers.
#include "app/workers.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/hash.h"

namespace rcptwatch::app {
namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// FNV-1a over both addresses, the smaller first: symmetric by construction.
std::uint64_t pair_hash(const std::uint8_t* a, const std::uint8_t* b, std::size_t len) {
  if (std::memcmp(a, b, len) > 0) std::swap(a, b);
  Fnv1a h;
  for (const std::uint8_t* p : {a, b}) {
    for (std::size_t i = 0; i < len; ++i) h.add(p[i]);
  }
  return fmix64(h.value() ^ len);
}

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint16_t kDnsPort = 53;

void take_udp(const std::uint8_t* l4, std::size_t avail, FrameRoute& r, decode::UdpDatagram* udp,
              const IpAddress& src, const IpAddress& dst) {
  if (avail < 8) return;
  const std::uint16_t sport = be16(l4);
  const std::uint16_t dport = be16(l4 + 2);
  const std::uint16_t len = be16(l4 + 4);
  if (sport != kDnsPort && dport != kDnsPort) return;
  if (len < 8 || len > avail) return;  // the decoder calls these malformed; so do we
  r.dns_udp = true;
  if (udp != nullptr) {
    udp->src = src;
    udp->dst = dst;
    udp->src_port = sport;
    udp->dst_port = dport;
    udp->payload = Bytes(l4 + 8, len - 8u);
  }
}

// The ports of a TCP or UDP header that starts at `l4` (at least 4 bytes there).
void take_ports(std::uint8_t proto, const std::uint8_t* l4, FrameRoute& r) {
  if (proto != kProtoTcp && proto != kProtoUdp) return;
  r.l4 = proto;
  r.src_port = be16(l4);
  r.dst_port = be16(l4 + 2);
}

}  // namespace

FrameRoute route_frame(std::uint32_t link_type, Bytes frame, decode::UdpDatagram* udp) {
  FrameRoute r;
  const std::uint8_t* p = frame.data();
  std::size_t n = frame.size();
  std::size_t off = 0;
  std::uint16_t ethertype = 0;  // 0: decide by the IP version nibble
  switch (link_type) {
    case 1: {  // Ethernet, with any number of 802.1Q / 802.1ad tags
      if (n < 14) return r;
      off = 12;
      ethertype = be16(p + off);
      while ((ethertype == 0x8100 || ethertype == 0x88A8 || ethertype == 0x9100) && off + 6 <= n) {
        off += 4;
        ethertype = be16(p + off);
      }
      off += 2;
      break;
    }
    case 0:
    case 108:
      off = 4;
      break;
    case 113:  // Linux cooked v1: protocol at 14, header 16
      if (n < 16) return r;
      ethertype = be16(p + 14);
      off = 16;
      break;
    case 276:  // Linux cooked v2: protocol first, header 20
      if (n < 20) return r;
      ethertype = be16(p);
      off = 20;
      break;
    case 101:
    case 12:
    case 14:
    case 228:
    case 229:
      off = 0;
      break;
    default:
      return r;
  }
  if (off >= n) return r;
  const std::uint8_t version = p[off] >> 4;
  if (ethertype != 0 && ethertype != kEtherIpv4 && ethertype != kEtherIpv6) return r;
  const std::uint8_t* ip = p + off;
  const std::size_t avail = n - off;
  if (version == 4 && avail >= 20) {
    r.has_ip = true;
    r.hash = pair_hash(ip + 12, ip + 16, 4);
    const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0F) * 4;
    const bool fragment = (be16(ip + 6) & 0x3FFF) != 0;
    if (!fragment && ihl >= 20 && ihl + 4 <= avail) take_ports(ip[9], ip + ihl, r);
    if (ip[9] == kProtoUdp && !fragment && ihl >= 20 && ihl <= avail) {
      const std::size_t total = std::min<std::size_t>(be16(ip + 2), avail);
      if (total >= ihl) {
        take_udp(ip + ihl, total - ihl, r, udp, IpAddress::v4(ip + 12), IpAddress::v4(ip + 16));
      }
    }
  } else if (version == 6 && avail >= 40) {
    r.has_ip = true;
    r.hash = pair_hash(ip + 8, ip + 24, 16);
    if (avail >= 44) take_ports(ip[6], ip + 40, r);  // a fragment has next header 44
    if (ip[6] == kProtoUdp) {
      const std::size_t total = std::min<std::size_t>(40u + be16(ip + 4), avail);
      take_udp(ip + 40, total - 40, r, udp, IpAddress::v6(ip + 8), IpAddress::v6(ip + 24));
    }
  }
  return r;
}

namespace {
// Either side of a ring that finds it empty (consumer) or full (producer) naps this long before
// it sleeps on the futex. Without it a consumer faster than the capture drained the ring after
// every record and was woken once per frame, and a producer facing a full ring was woken once
// per released record: a futex call per frame, four times the single-worker CPU on replay.
// 200 us of frames is at most ~0.5 MB at replay speed, far inside the 8 MiB ring.
constexpr auto kRingNap = std::chrono::microseconds(200);
}  // namespace

// The waits are on our own 32-bit futex words rather than std::atomic<uint64_t>::wait and
// notify_one: libstdc++ 12 keeps the waiters of a 64-bit atomic in a shared pool, and its
// notify_one after every record made a FUTEX_WAKE system call for most of them, a quarter of
// a two-worker replay of smtp.pcap. Here a side calls the kernel only when the other sleeps,
// and looks (a fence and a load) once per 64 records and when it is about to wait itself.
constexpr unsigned kWakeCheckEvery = 64;

template <typename Ready>
void FrameRing::sleep_unless(std::atomic<std::uint32_t>& flag, Ready ready) {
  flag.store(1, std::memory_order_seq_cst);
  if (!ready()) {
    // Returns at once if the other side has cleared the flag already; a spurious wake-up only
    // makes the caller look again.
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&flag), FUTEX_WAIT_PRIVATE, 1, nullptr, nullptr, 0);
  }
  flag.store(0, std::memory_order_relaxed);
}

void FrameRing::wake_if_sleeping(std::atomic<std::uint32_t>& flag) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (flag.load(std::memory_order_relaxed) == 0) return;
  flag.store(0, std::memory_order_relaxed);
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&flag), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

FrameRing::FrameRing(std::size_t capacity_bytes)
    : capacity_(capacity_bytes & ~std::size_t{7}), buffer_(new std::byte[capacity_]) {}

bool FrameRing::try_push(Kind kind, const capture::Packet& p) { return push_impl(kind, p, false); }
void FrameRing::push(Kind kind, const capture::Packet& p) { push_impl(kind, p, true); }

void FrameRing::flush() {
  unflushed_ = 0;
  wake_if_sleeping(consumer_sleeping_);
}

bool FrameRing::push_impl(Kind kind, const capture::Packet& p, bool wait) {
  const std::size_t need = (sizeof(Header) + p.data.size() + 7) & ~std::size_t{7};
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  const std::size_t pos = head % capacity_;
  // A record never wraps: when it does not fit before the end, the rest is skipped (marked
  // with a Wrap header when one fits; the consumer skips shorter tails by itself).
  const std::size_t skip = capacity_ - pos < need ? capacity_ - pos : 0;
  bool napped = false;
  while (head + skip + need - cached_tail_ > capacity_) {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (head + skip + need - cached_tail_ <= capacity_) break;
    if (!wait) return false;
    flush();  // the consumer must not sleep on what is already in the ring
    if (!napped) {
      napped = true;
      std::this_thread::sleep_for(kRingNap);
      continue;
    }
    const std::uint64_t seen = cached_tail_;
    sleep_unless(producer_sleeping_, [&] { return tail_.load(std::memory_order_seq_cst) != seen; });
  }
  if (skip >= sizeof(Header)) {
    Header wrap;
    wrap.kind = Kind::Wrap;
    wrap.length = static_cast<std::uint32_t>(skip);
    std::memcpy(buffer_.get() + pos, &wrap, sizeof wrap);
  }
  const std::size_t at = (head + skip) % capacity_;
  Header h;
  h.length = static_cast<std::uint32_t>(need);
  h.kind = kind;
  h.ts = p.ts.usec;
  h.link_type = p.link_type;
  h.wire_length = p.wire_length;
  h.data_length = static_cast<std::uint32_t>(p.data.size());
  std::memcpy(buffer_.get() + at, &h, sizeof h);
  if (!p.data.empty()) std::memcpy(buffer_.get() + at + sizeof h, p.data.data(), p.data.size());
  head_.store(head + skip + need, std::memory_order_release);
  if ((kind != Kind::Frame && kind != Kind::LearnDns) || ++unflushed_ >= kWakeCheckEvery) flush();
  return true;
}

FrameRing::Record FrameRing::wait_front() {
  std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  bool napped = false;
  for (;;) {
    if (tail == cached_head_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail == cached_head_) {
        // Empty: the producer must not sleep on room already freed.
        unchecked_ = 0;
        wake_if_sleeping(producer_sleeping_);
        if (!napped) {
          napped = true;
          std::this_thread::sleep_for(kRingNap);
          continue;
        }
        sleep_unless(consumer_sleeping_, [&] { return head_.load(std::memory_order_seq_cst) != tail; });
        continue;
      }
    }
    const std::size_t pos = tail % capacity_;
    if (capacity_ - pos < sizeof(Header)) {
      tail += capacity_ - pos;
      continue;
    }
    Record r;
    std::memcpy(&r.header, buffer_.get() + pos, sizeof r.header);
    if (r.header.kind == Kind::Wrap) {
      tail += r.header.length;
      continue;
    }
    r.data = Bytes(reinterpret_cast<const std::uint8_t*>(buffer_.get() + pos + sizeof(Header)), r.header.data_length);
    front_end_ = tail + r.header.length;
    if (tail != tail_.load(std::memory_order_relaxed)) {
      tail_.store(tail, std::memory_order_release);  // skipped tails free space at once
    }
    return r;
  }
}

void FrameRing::release() {
  tail_.store(front_end_, std::memory_order_release);
  if (++unchecked_ >= kWakeCheckEvery) {
    unchecked_ = 0;
    wake_if_sleeping(producer_sleeping_);
  }
}

struct WorkerPool::Worker {
  Worker(std::size_t i, bool on_capture_thread, const PipelineConfig& config,
         std::shared_ptr<const detect::Matcher> matcher, alert::AlertSink& sink)
      : index(i),
        ring(on_capture_thread ? nullptr : std::make_unique<FrameRing>(kRingBytes)),
        pipeline(config, std::move(matcher), sink) {}
  std::size_t index;
  // Null for the worker that runs on the capture thread (a replay's worker 0): it has no
  // ring and no thread.
  std::unique_ptr<FrameRing> ring;
  Pipeline pipeline;
  std::thread thread;
  WorkerStats counts;                       // frames / drops: written by the capture thread
  std::atomic<std::uint64_t> dns_learned{0};  // written by the worker
  decode::UdpDatagram udp;                  // scratch for LearnDns records
  Timestamp ticked;                         // capture thread: the last Tick sent to it
};

PipelineConfig WorkerPool::worker_config(const PipelineConfig& config, unsigned workers,
                                         unsigned index) {
  PipelineConfig c = config;
  auto share = [workers](auto v) { return std::max<decltype(v)>(1, static_cast<decltype(v)>(v / workers)); };
  c.tracker.max_flows = share(c.tracker.max_flows);
  c.tracker.max_buffered_bytes_total = share(c.tracker.max_buffered_bytes_total);
  c.decoder.max_fragment_datagrams = share(c.decoder.max_fragment_datagrams);
  c.decoder.max_fragment_bytes = share(c.decoder.max_fragment_bytes);
  c.evidence.max_bytes_held = share(c.evidence.max_bytes_held);
  c.tracker.first_flow_id = index + 1;
  c.tracker.flow_id_step = workers;
  return c;
}

WorkerPool::WorkerPool(unsigned workers, bool block_when_full, const PipelineConfig& config,
                       std::shared_ptr<const detect::Matcher> matcher, alert::AlertSink& sink)
    : block_when_full_(block_when_full) {
  workers = std::max(1u, workers);
  next_learned_.resize(workers);
  untracked_on_capture_thread_ = block_when_full && workers >= 2;
  for (std::uint16_t p : with_watch_ports(config.tracker).server_ports) tracked_ports_.set(p);
  for (unsigned i = 0; i < workers; ++i) {
    // Replay: the capture thread is worker 0, so N workers are N threads on N cores, and its
    // share of the frames (1/N) is not copied at all. Live capture keeps the capture thread
    // free to drain the kernel's buffer.
    const bool on_capture_thread = block_when_full && i == 0;
    workers_.push_back(std::make_unique<Worker>(i, on_capture_thread, worker_config(config, workers, i), matcher, sink));
  }
  for (auto& w : workers_) {
    if (w->ring) w->thread = std::thread([this, &w = *w] { run(w); });
  }
}

WorkerPool::~WorkerPool() {
  if (!finished_) finish(Timestamp{});
}

void WorkerPool::run(Worker& w) {
  for (;;) {
    const FrameRing::Record r = w.ring->wait_front();
    capture::Packet p;
    p.ts = Timestamp{r.header.ts};
    p.link_type = r.header.link_type;
    p.wire_length = r.header.wire_length;
    p.data = r.data;
    const bool more = apply(w, r.header.kind, p);
    w.ring->release();
    if (!more) return;
  }
}

bool WorkerPool::apply(Worker& w, FrameRing::Kind kind, const capture::Packet& p) {
  switch (kind) {
    case FrameRing::Kind::Frame:
      w.pipeline.process(p);
      break;
    case FrameRing::Kind::LearnDns:
      if (route_frame(p.link_type, p.data, &w.udp).dns_udp) {
        w.pipeline.learn_dns(w.udp, p.ts);
        w.dns_learned.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    case FrameRing::Kind::Reload: {
      std::lock_guard lock(control_mutex_);
      w.pipeline.set_matcher(next_matcher_);
      break;
    }
    case FrameRing::Kind::Stats: {
      capture::SourceStats source;
      if (p.data.size() == sizeof source) std::memcpy(&source, p.data.data(), sizeof source);
      std::string json = w.pipeline.stats_json(source, p.ts);
      {
        std::lock_guard lock(control_mutex_);
        stats_replies_[w.index] = std::move(json);
      }
      if (replies_pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) replies_pending_.notify_all();
      break;
    }
    case FrameRing::Kind::LearnSync: {
      learn::ObservationBatch batch = w.pipeline.take_observations();
      {
        std::lock_guard lock(control_mutex_);
        learn_replies_[w.index] = std::move(batch);
      }
      if (replies_pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) replies_pending_.notify_all();
      break;
    }
    case FrameRing::Kind::Learned: {
      std::lock_guard lock(control_mutex_);
      w.pipeline.set_learned_matcher(std::move(next_learned_[w.index].front()));
      next_learned_[w.index].pop_front();
      break;
    }
    case FrameRing::Kind::Finish:
      w.pipeline.finish_at(p.ts);
      return false;
    case FrameRing::Kind::Tick:
      w.pipeline.advance_to(p.ts);
      break;
    case FrameRing::Kind::Wrap:
      break;
  }
  return true;
}

// A record for worker `w`: run at once by the capture thread's own worker, else queued.
bool WorkerPool::send(Worker& w, FrameRing::Kind kind, const capture::Packet& p, bool wait) {
  if (!w.ring) {
    apply(w, kind, p);
    return true;
  }
  if (wait) {
    w.ring->push(kind, p);
    return true;
  }
  return w.ring->try_push(kind, p);
}

void WorkerPool::dispatch(const capture::Packet& packet) {
  const FrameRoute route = route_frame(packet.link_type, packet.data);
  std::size_t owner = 0;  // frames without an IP header read go to worker 0
  if (route.has_ip && !untracked_on_capture_thread_) {
    owner = route.hash % workers_.size();
  } else if (route.has_ip) {
    // What a Pipeline does with untracked traffic is count it: any pipeline gives the same
    // counts, so the capture thread's own worker takes it where it lies.
    const bool untracked =
        (route.l4 == kProtoTcp && !tracked_ports_.test(route.src_port) && !tracked_ports_.test(route.dst_port)) ||
        (route.l4 == kProtoUdp && !route.dns_udp);
    // The capture thread also reads, routes and copies: it takes half a share of the rest.
    const std::size_t share = route.hash % (2 * workers_.size() - 1);
    owner = untracked || share == 0 ? 0 : 1 + (share - 1) / 2;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (i != owner && !route.dns_udp) continue;
    Worker& w = *workers_[i];
    if (w.ring && packet.data.size() > w.ring->max_payload()) {
      ++w.counts.oversized_drops;
      continue;
    }
    const FrameRing::Kind kind = i == owner ? FrameRing::Kind::Frame : FrameRing::Kind::LearnDns;
    if (!send(w, kind, packet, block_when_full_)) {
      ++w.counts.ring_full_drops;
      continue;
    }
    if (i == owner) ++w.counts.frames;
  }
}

void WorkerPool::end_batch(Timestamp now) {
  constexpr std::int64_t kTickUsec = 1'000'000;
  for (auto& w : workers_) {
    if (!w->ring) continue;
    capture::Packet tick;
    tick.ts = now;
    // Not a frame, so it wakes the worker at once. A full ring is left as it is (a live
    // capture must not wait for room): its frames move the worker's clock anyway.
    if (now.usec - w->ticked.usec >= kTickUsec && w->ring->try_push(FrameRing::Kind::Tick, tick)) {
      w->ticked = now;
    } else {
      w->ring->flush();
    }
  }
}

void WorkerPool::broadcast(FrameRing::Kind kind, const capture::Packet& p) {
  for (auto& w : workers_) send(*w, kind, p, true);  // control records are never dropped
}

void WorkerPool::reload(std::shared_ptr<const detect::Matcher> matcher) {
  {
    std::lock_guard lock(control_mutex_);
    next_matcher_ = std::move(matcher);
  }
  broadcast(FrameRing::Kind::Reload, capture::Packet{});
}

std::vector<std::string> WorkerPool::collect_stats(const capture::SourceStats& source, Timestamp now) {
  if (finished_) {  // the threads have ended: the pipelines are this thread's to read
    std::vector<std::string> out;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      out.push_back(workers_[i]->pipeline.stats_json(i == 0 ? source : capture::SourceStats{}, now));
    }
    return out;
  }
  {
    std::lock_guard lock(control_mutex_);
    stats_replies_.assign(workers_.size(), std::string());
  }
  replies_pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_release);
  capture::Packet request;
  request.ts = now;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    // Worker 0 reports the capture counters; the others add zeros to the sum.
    const capture::SourceStats mine = i == 0 ? source : capture::SourceStats{};
    request.data = Bytes(reinterpret_cast<const std::uint8_t*>(&mine), sizeof mine);
    send(*workers_[i], FrameRing::Kind::Stats, request, true);
  }
  wait_for_replies();
  std::lock_guard lock(control_mutex_);
  return std::move(stats_replies_);
}

void WorkerPool::wait_for_replies() {
  for (unsigned left = replies_pending_.load(std::memory_order_acquire); left != 0;
       left = replies_pending_.load(std::memory_order_acquire)) {
    replies_pending_.wait(left, std::memory_order_acquire);
  }
}

learn::ObservationBatch WorkerPool::take_observations() {
  learn::ObservationBatch merged;
  if (finished_) {  // the threads have ended: the pipelines are this thread's to read
    for (auto& w : workers_) merged.merge(w->pipeline.take_observations());
    return merged;
  }
  {
    std::lock_guard lock(control_mutex_);
    learn_replies_.assign(workers_.size(), learn::ObservationBatch());
  }
  replies_pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_release);
  broadcast(FrameRing::Kind::LearnSync, capture::Packet{});
  wait_for_replies();
  std::lock_guard lock(control_mutex_);
  for (const learn::ObservationBatch& b : learn_replies_) merged.merge(b);
  learn_replies_.clear();
  return merged;
}

void WorkerPool::set_learned_matcher(std::shared_ptr<const detect::Matcher> matcher) {
  if (finished_) return;
  {
    std::lock_guard lock(control_mutex_);
    for (auto& pending : next_learned_) pending.push_back(matcher);
  }
  broadcast(FrameRing::Kind::Learned, capture::Packet{});
}

void WorkerPool::finish(Timestamp last_ts) {
  if (finished_) return;
  finished_ = true;
  capture::Packet end;
  end.ts = last_ts;
  broadcast(FrameRing::Kind::Finish, end);
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<WorkerStats> WorkerPool::worker_stats() const {
  std::vector<WorkerStats> out;
  for (const auto& w : workers_) {
    WorkerStats s = w->counts;
    s.dns_learned = w->dns_learned.load(std::memory_order_relaxed);
    out.push_back(s);
  }
  return out;
}

std::uint64_t WorkerPool::recipients_checked() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->pipeline.counters().recipients_checked;
  return n;
}

std::uint64_t WorkerPool::alerts() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->pipeline.counters().alerts;
  return n;
}

unsigned default_worker_count() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 1 ? cores - 1 : 1;
}

}  // namespace rcptwatch::app
