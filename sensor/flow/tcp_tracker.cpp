// TCP tracker: a flow table keyed by the canonical 5-tuple, one LRU list per flow state so
// idle expiry only ever looks at list heads, and closed flows kept briefly as tombstones so
// late retransmissions do not resurrect a connection that has ended. Tombstones are small
// objects of their own (80 bytes): every connection leaves one for closed_timeout, and as full
// flows they were most of a replay's memory. Flows and tombstones sit in slabs (flow_table.h),
// each with an open-addressing index of its own: a segment of a live connection costs one probe
// into a small index that stays in cache (tombstones outnumber live flows a hundredfold in a busy
// replay); only a segment of no live connection also probes the tombstones.
#include "flow/tcp_tracker.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <limits>
#include <tuple>
#include <utility>

#include "common/flow_key.h"
#include "flow/flow_table.h"
#include "reassembly/stream_reassembler.h"

namespace rcptwatch::flow {

namespace {

using reassembly::ReassemblyCounters;
using reassembly::ReassemblyLimits;
using reassembly::StreamReassembler;
using reassembly::TailPool;

// Each state has its own idle timeout, hence its own LRU list (closed connections are
// tombstones, outside the flow table).
enum class FlowState : std::uint8_t { SynSent = 0, Established = 1 };
constexpr std::size_t kStates = 2;

// Forwards one direction of a reassembler to the connection's consumer.
class DirSink final : public reassembly::StreamSink {
 public:
  DirSink(StreamConsumer* consumer, StreamDir dir, Timestamp ts)
      : consumer_(consumer), dir_(dir), ts_(ts) {}
  void on_data(Bytes data) override {
    if (consumer_) consumer_->on_data(dir_, data, ts_);
  }
  void on_gap(std::uint64_t length) override {
    if (consumer_) consumer_->on_gap(dir_, length, ts_);
  }
  void on_conflict(Bytes alternative, std::uint64_t offset_back) override {
    if (consumer_) consumer_->on_conflict(dir_, alternative, offset_back, ts_);
  }

 private:
  StreamConsumer* consumer_;
  StreamDir dir_;
  Timestamp ts_;
};

struct Flow {
  Flow(const ReassemblyLimits& limits, ReassemblyCounters& counters, TailPool& tails)
      : to_server(limits, counters, &tails), to_client(limits, counters, &tails) {}

  FlowKey key;
  std::uint32_t tag = 0;   // in the index
  std::uint32_t self = 0;  // its place in the slab
  ConnectionInfo info;
  std::unique_ptr<StreamConsumer> consumer;
  StreamReassembler to_server;
  StreamReassembler to_client;
  Flow* lru_prev = nullptr;  // intrusive: moving a flow in its list never allocates
  Flow* lru_next = nullptr;
  Timestamp last_seen;
  std::uint32_t client_isn = 0;
  FlowState state = FlowState::Established;
  bool linked = false;
  bool client_isn_known = false;
  bool client_fin = false;
  bool server_fin = false;
};

// What is left of a closed connection for closed_timeout: enough to tell a late segment of
// it (dropped) from a new connection on the same 4-tuple (a new opening SYN).
struct Tombstone {
  FlowKey key;
  std::uint32_t tag = 0;   // in the index
  std::uint32_t self = 0;  // its place in the slab
  Timestamp last_seen;  // when it closed
  Tombstone* lru_prev = nullptr;
  Tombstone* lru_next = nullptr;
  std::uint32_t client_isn = 0;
  bool client_isn_known = false;
  bool client_is_lo = false;  // the client is the key's addr_lo/port_lo endpoint
  bool linked = false;
};
static_assert(sizeof(Tombstone) <= 80, "one per connection for closed_timeout: keep it small");

// Intrusive, oldest first: the head is the next to expire; moving an entry never allocates.
template <class Node>
class LruList {
 public:
  Node* front() const { return head_; }
  void push_back(Node* f) {
    f->lru_prev = tail_;
    f->lru_next = nullptr;
    (tail_ ? tail_->lru_next : head_) = f;
    tail_ = f;
    f->linked = true;
  }
  void unlink(Node* f) {
    (f->lru_prev ? f->lru_prev->lru_next : head_) = f->lru_next;
    (f->lru_next ? f->lru_next->lru_prev : tail_) = f->lru_prev;
    f->lru_prev = f->lru_next = nullptr;
    f->linked = false;
  }
  void clear() { head_ = tail_ = nullptr; }

 private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
};
using FlowList = LruList<Flow>;

}  // namespace

struct TcpTracker::Impl {
  Impl(TrackerConfig cfg, StreamConsumerFactory& f)
      : config(std::move(cfg)), factory(f) {
    for (std::uint16_t p : config.server_ports) server_ports.set(p);
    limits.max_buffered_bytes = config.max_buffered_bytes_per_direction;
    limits.delivered_tail_bytes = config.conflict_tail_bytes;
  }

  bool watched(std::uint16_t port) const { return server_ports.test(port); }

  std::int64_t timeout(FlowState s) const {
    switch (s) {
      case FlowState::SynSent:
        return config.syn_timeout_usec;
      case FlowState::Established:
        return config.established_timeout_usec;
    }
    return 0;
  }

  FlowList& list(FlowState s) { return lists[static_cast<std::size_t>(s)]; }

  void unlink(Flow& f) {
    if (f.linked) list(f.state).unlink(&f);
  }

  void touch(Flow& f) {
    unlink(f);
    f.last_seen = now;
    list(f.state).push_back(&f);
    note_deadline(now, timeout(f.state));
  }

  // When an entry last seen at `seen` expires; saturated, since timeouts come from the user.
  static std::int64_t deadline(Timestamp seen, std::int64_t idle_limit) {
    std::int64_t at = 0;
    return __builtin_add_overflow(seen.usec, idle_limit, &at)
               ? (idle_limit > 0 ? std::numeric_limits<std::int64_t>::max()
                                 : std::numeric_limits<std::int64_t>::min())
               : at;
  }

  // Every entry pushed onto an expiry list lowers the bound expire() waits for.
  void note_deadline(Timestamp seen, std::int64_t idle_limit) {
    next_expiry_usec = std::min(next_expiry_usec, deadline(seen, idle_limit));
  }

  // Drops the index entry, and with it the flow.
  void remove(Flow& f) {
    unlink(f);
    live.erase(f.tag, f.self);
    flows.destroy(f.self);
  }

  // Delivers what is buffered, tells the consumer, and frees the per-connection memory.
  void close_connection(Flow& f, Timestamp ts) {
    DirSink to_server(f.consumer.get(), StreamDir::ToServer, ts);
    f.to_server.flush(to_server);
    DirSink to_client(f.consumer.get(), StreamDir::ToClient, ts);
    f.to_client.flush(to_client);
    if (f.consumer) {
      f.consumer->on_close(ts);
      factory.recycle(f.info, std::move(f.consumer));
    }
    f.to_server.reset();
    f.to_client.reset();
    --counters.flows_active;
  }

  // FIN both ways or RST: closed now; a tombstone stands in for it for closed_timeout.
  // The flow itself is destroyed: the caller must not touch `f` afterwards.
  void finish(Flow& f, Timestamp ts) {
    close_connection(f, ts);
    ++counters.flows_closed;
    // A live flow and a tombstone never share a key: a tombstone goes before its key opens again.
    const std::uint32_t at = graves.create();
    Tombstone& t = graves[at];
    t.key = f.key;
    t.tag = f.tag;
    t.self = at;
    closed.insert(t.tag, at);
    t.last_seen = now;
    t.client_isn = f.client_isn;
    t.client_isn_known = f.client_isn_known;
    t.client_is_lo = t.key.port_lo == f.info.client_port && t.key.addr_lo == f.info.client_ip.bytes;
    tombstone_list.push_back(&t);
    note_deadline(now, config.closed_timeout_usec);
    remove(f);
  }

  void remove_tombstone(Tombstone& t) {
    tombstone_list.unlink(&t);
    closed.erase(t.tag, t.self);
    graves.destroy(t.self);
  }

  void open_connection(Flow& f, const decode::TcpSegment& seg) {
    const bool syn = seg.has(decode::tcp_flag::kSyn);
    const bool ack = seg.has(decode::tcp_flag::kAck);
    bool src_is_server = false;
    if (syn) {
      src_is_server = ack;
    } else if (watched(seg.src_port) && watched(seg.dst_port)) {
      src_is_server = seg.src_port < seg.dst_port;
    } else {
      src_is_server = watched(seg.src_port);
    }
    ConnectionInfo& info = f.info;
    info = ConnectionInfo{};
    info.id = next_id;
    next_id += config.flow_id_step;
    info.client_ip = src_is_server ? seg.dst : seg.src;
    info.client_port = src_is_server ? seg.dst_port : seg.src_port;
    info.server_ip = src_is_server ? seg.src : seg.dst;
    info.server_port = src_is_server ? seg.src_port : seg.dst_port;
    info.first_seen = now;
    info.syn_seen = syn;
    f.state = syn && !ack ? FlowState::SynSent : FlowState::Established;
    f.client_isn_known = false;
    f.client_fin = false;
    f.server_fin = false;
    ++counters.flows_created;
    ++counters.flows_active;
    f.consumer = factory.open(info);
  }

  // Over max_flows, tombstones counted (the new flow is already in the table, not yet in a
  // list): tombstones go first (nothing to lose), then the least recently seen flow.
  void make_room() {
    const std::size_t cap = std::max<std::uint32_t>(config.max_flows, 1);
    while (flows.size() + graves.size() > cap) {
      if (Tombstone* t = tombstone_list.front()) {
        remove_tombstone(*t);
        continue;
      }
      Flow* a = list(FlowState::SynSent).front();
      Flow* b = list(FlowState::Established).front();
      Flow* victim = a;
      if (!a || (b && std::tie(b->last_seen, b->info.id) < std::tie(a->last_seen, a->info.id))) {
        victim = b;
      }
      if (!victim) return;
      close_connection(*victim, now);
      ++counters.flows_evicted_cap;
      remove(*victim);
    }
  }

  void expire() {
    if (now.usec < next_expiry_usec) return;  // no list head is due yet
    for (std::size_t s = 0; s < kStates; ++s) {
      const auto state = static_cast<FlowState>(s);
      const std::int64_t idle_limit = timeout(state);
      while (Flow* f = list(state).front()) {
        if (now.usec - f->last_seen.usec < idle_limit) break;
        close_connection(*f, now);
        ++counters.flows_evicted_idle;
        remove(*f);
      }
    }
    while (Tombstone* t = tombstone_list.front()) {
      if (now.usec - t->last_seen.usec < config.closed_timeout_usec) break;
      remove_tombstone(*t);
    }
    // The lists are in last-seen order: their heads are the next to be due.
    next_expiry_usec = std::numeric_limits<std::int64_t>::max();
    for (std::size_t s = 0; s < kStates; ++s) {
      const auto state = static_cast<FlowState>(s);
      if (const Flow* f = list(state).front()) note_deadline(f->last_seen, timeout(state));
    }
    if (const Tombstone* t = tombstone_list.front()) {
      note_deadline(t->last_seen, config.closed_timeout_usec);
    }
  }

  // The shared budget: whoever pushes the total over it gives up on its own holes.
  void enforce_total_cap(StreamReassembler& r, DirSink& sink) {
    while (rcounters.buffered_bytes > config.max_buffered_bytes_total &&
           r.skip_to_buffered(sink, true)) {
      ++counters.gaps_forced_total_cap;
    }
  }

  void handle(Flow& f, const decode::TcpSegment& seg, Timestamp ts) {
    const bool syn = seg.has(decode::tcp_flag::kSyn);
    const bool ack = seg.has(decode::tcp_flag::kAck);
    unlink(f);  // before any state change: the list it sits in is chosen by its state
    const bool from_client = seg.src == f.info.client_ip && seg.src_port == f.info.client_port;
    StreamReassembler& r = from_client ? f.to_server : f.to_client;
    DirSink sink(f.consumer.get(), from_client ? StreamDir::ToServer : StreamDir::ToClient, ts);
    if (!from_client) {
      f.info.server_data_seen = true;
      if (f.state == FlowState::SynSent) f.state = FlowState::Established;
    }
    if (syn) {
      r.set_initial_sequence(seg.seq);
      if (from_client && !ack && !f.client_isn_known) {
        f.client_isn = seg.seq;
        f.client_isn_known = true;
      }
      // The SYN-ACK acknowledges the client's ISN even when its SYN was not captured.
      if (!from_client && ack) f.to_server.set_initial_sequence(seg.ack - 1);
    }
    if (!seg.payload.empty()) {
      r.insert(syn ? seg.seq + 1 : seg.seq, seg.payload, sink);
      enforce_total_cap(r, sink);
    }
    if (seg.has(decode::tcp_flag::kRst)) {
      finish(f, ts);
      return;
    }
    if (seg.has(decode::tcp_flag::kFin)) (from_client ? f.client_fin : f.server_fin) = true;
    if (f.client_fin && f.server_fin) {
      finish(f, ts);
      return;
    }
    touch(f);
  }

  void process(const decode::TcpSegment& seg, Timestamp ts) {
    ++counters.segments;
    if (ts > now) now = ts;  // packet time only moves forward for expiry purposes
    expire();
    if (!watched(seg.src_port) && !watched(seg.dst_port)) {
      ++counters.segments_ignored;
      return;
    }
    const bool opening_syn =
        seg.has(decode::tcp_flag::kSyn) && !seg.has(decode::tcp_flag::kAck);
    const FlowKey key = FlowKey::of(seg.src, seg.src_port, seg.dst, seg.dst_port);
    const std::uint32_t tag = FlowIndex::tag_of(hasher(key));
    const std::uint32_t ref = live.find(tag, [&](std::uint32_t r) { return flows[r].key == key; });
    if (ref == FlowIndex::kNone) {
      const std::uint32_t grave = closed.find(tag, [&](std::uint32_t r) { return graves[r].key == key; });
      if (grave != FlowIndex::kNone) {
        Tombstone& t = graves[grave];
        const bool src_is_lo = key.port_lo == seg.src_port && key.addr_lo == seg.src.bytes;
        const bool syn_retransmission = opening_syn && t.client_isn_known &&
                                        src_is_lo == t.client_is_lo && seg.seq == t.client_isn;
        if (!opening_syn || syn_retransmission) {
          ++counters.segments_after_close;  // do not resurrect the connection
          return;
        }
        remove_tombstone(t);
        ++counters.reused;
      } else if (seg.has(decode::tcp_flag::kRst) ||
                 (!seg.has(decode::tcp_flag::kSyn) && seg.payload.empty())) {
        ++counters.segments_without_flow;  // nothing worth a connection of its own
        return;
      }
      const std::uint32_t at = flows.create(limits, rcounters, tails);
      Flow& f = flows[at];
      f.key = key;
      f.tag = tag;
      f.self = at;
      live.insert(tag, at);
      make_room();
      open_connection(f, seg);
      handle(f, seg, ts);
      return;
    }
    Flow& f = flows[ref];
    const bool syn_retransmission = opening_syn && f.client_isn_known &&
                                    seg.src == f.info.client_ip &&
                                    seg.src_port == f.info.client_port &&
                                    seg.seq == f.client_isn;
    if (opening_syn && !syn_retransmission) {
      // A new handshake on a live 4-tuple: the old connection ended without us seeing it.
      unlink(f);
      close_connection(f, ts);
      ++counters.flows_closed;
      ++counters.reused;
      open_connection(f, seg);
    }
    handle(f, seg, ts);
  }

  void flush(Timestamp ts) {
    if (ts > now) now = ts;
    std::vector<Flow*> open;
    open.reserve(counters.flows_active);
    live.for_each([&](std::uint32_t r) { open.push_back(&flows[r]); });
    std::sort(open.begin(), open.end(),
              [](const Flow* a, const Flow* b) { return a->info.id < b->info.id; });
    for (Flow* f : open) {
      close_connection(*f, ts);
      ++counters.flows_flushed;
    }
    for (auto& l : lists) l.clear();
    tombstone_list.clear();
    live.clear();
    closed.clear();
    flows.clear();
    graves.clear();
  }

  const TrackerCounters& sync_counters() {
    counters.gaps = rcounters.gaps;
    counters.gap_bytes = rcounters.gap_bytes;
    counters.retransmitted_bytes = rcounters.retransmitted_bytes;
    counters.overlaps = rcounters.overlaps;
    counters.overlap_conflicts = rcounters.overlap_conflicts;
    counters.out_of_order_segments = rcounters.out_of_order_segments;
    counters.buffer_cap_drops = rcounters.buffer_cap_drops;
    counters.buffered_bytes = rcounters.buffered_bytes;
    return counters;
  }

  TrackerConfig config;
  StreamConsumerFactory& factory;
  std::bitset<65536> server_ports;
  // Declared before the slabs: flows hold references to these until they are destroyed.
  ReassemblyLimits limits;
  ReassemblyCounters rcounters;
  TailPool tails;  // the flows' delivered-bytes tails, reused from closed connections
  TrackerCounters counters;
  Timestamp now;
  std::uint64_t next_id = config.first_flow_id;
  std::array<FlowList, kStates> lists;
  // No list head is due before this packet time (a lower bound: every push onto a list lowers
  // it, expire() sets it from the heads), so most packets skip the walk over the lists.
  std::int64_t next_expiry_usec = std::numeric_limits<std::int64_t>::max();
  FlowKeyHash hasher;  // seeded per tracker: keys come from the network
  Slab<Flow> flows;        // live connections
  FlowIndex live;          // flows by key
  Slab<Tombstone> graves;  // closed connections, for closed_timeout
  FlowIndex closed;        // tombstones by key
  LruList<Tombstone> tombstone_list;
};

TcpTracker::TcpTracker(TrackerConfig config, StreamConsumerFactory& factory)
    : impl_(std::make_unique<Impl>(std::move(config), factory)) {}

TcpTracker::~TcpTracker() = default;

void TcpTracker::process(const decode::TcpSegment& segment, Timestamp ts) {
  impl_->process(segment, ts);
}

void TcpTracker::flush(Timestamp ts) { impl_->flush(ts); }

void TcpTracker::advance_to(Timestamp ts) {
  if (ts > impl_->now) impl_->now = ts;
  impl_->expire();
}

const TrackerCounters& TcpTracker::counters() const { return impl_->sync_counters(); }

std::size_t TcpTracker::flow_entry_bytes() {
  // The flow itself (in its slab) plus its share of the index: at most half the slots are in
  // use, and just after the index doubles a quarter.
  return sizeof(Flow) + 4 * FlowIndex::kSlotBytes;
}

}  // namespace rcptwatch::flow
