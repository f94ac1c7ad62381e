// Stream reassembly: positions segments on a 64-bit stream offset (so 2^32 wrap-around is
// handled once, at the door), delivers in-order bytes as views, buffers the rest in a map of
// disjoint copies, and turns holes into explicit gaps when a cap or the end says so.
#include "reassembly/stream_reassembler.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace rcptwatch::reassembly {

namespace {

bool same_bytes(Bytes a, Bytes b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

TailBuffer TailPool::take(std::uint32_t capacity) {
  auto& spares = spares_for(capacity);
  while (!spares.empty()) {
    TailBuffer buffer = std::move(spares.back());
    spares.pop_back();
    if (buffer.capacity >= capacity) return buffer;  // smaller: from a tracker with other limits
  }
  return TailBuffer{std::make_unique_for_overwrite<std::uint8_t[]>(capacity), capacity};
}

void TailPool::give(TailBuffer& buffer) {
  auto& spares = spares_for(buffer.capacity);
  if (buffer.bytes && spares.size() < kMaxSpare) spares.push_back(std::move(buffer));
  buffer = TailBuffer{};
}

StreamReassembler::StreamReassembler(const ReassemblyLimits& limits,
                                     ReassemblyCounters& counters, TailPool* pool)
    : limits_(limits), counters_(counters), pool_(pool) {}

StreamReassembler::~StreamReassembler() { sub_buffered(buffered_); }

void StreamReassembler::set_initial_sequence(std::uint32_t isn) {
  if (started_) return;
  started_ = true;
  base_seq_ = isn + 1;  // the SYN itself occupies one sequence number
  next_ = 0;
}

void StreamReassembler::insert(std::uint32_t seq, Bytes payload, StreamSink& sink) {
  if (payload.empty()) return;
  if (!started_) {
    started_ = true;
    base_seq_ = seq;
    next_ = 0;
  }
  // Signed: a retransmission from before a midstream start has a negative offset.
  std::int64_t start =
      static_cast<std::int64_t>(next_) + seq_distance(next_sequence(), seq);
  if (start < static_cast<std::int64_t>(next_)) {
    trim_delivered(start, payload, sink);
    if (payload.empty()) return;
  }
  const auto ustart = static_cast<std::uint64_t>(start);
  if (ustart == next_ && (!ooo_ || ooo_->segments.empty())) {
    deliver(payload, sink);  // the common case: in order, nothing waiting
    return;
  }
  buffer_or_deliver(ustart, payload, sink);
  drain(sink);
  while ((buffered_ > limits_.max_buffered_bytes ||
          buffered_segments() > limits_.max_buffered_segments) &&
         skip_to_buffered(sink, true)) {
  }
  release_out_of_order_if_empty();
}

// The part of a segment before next_ was delivered already (or given up as a gap): compare
// what the tail still remembers, count it as retransmitted, and cut it off.
void StreamReassembler::trim_delivered(std::int64_t& start, Bytes& payload, StreamSink& sink) {
  const auto next = static_cast<std::int64_t>(next_);
  const std::int64_t end = start + static_cast<std::int64_t>(payload.size());
  const std::int64_t old_end = std::min(end, next);
  const std::int64_t cmp_start =
      std::max(start, next - static_cast<std::int64_t>(tail_size()));
  if (cmp_start < old_end) {
    const Bytes seen = payload.subspan(static_cast<std::size_t>(cmp_start - start),
                                       static_cast<std::size_t>(old_end - cmp_start));
    bool differs = false;
    for (std::size_t i = 0; i < seen.size() && !differs; ++i) {
      const auto back = static_cast<std::uint64_t>(next - cmp_start) - i;
      differs = seen[i] != tail_byte_back(back);
    }
    if (differs) {
      ++counters_.overlap_conflicts;
      sink.on_conflict(seen, static_cast<std::uint64_t>(next - cmp_start));
    }
  }
  ++counters_.overlaps;
  counters_.retransmitted_bytes += static_cast<std::uint64_t>(old_end - start);
  payload = payload.subspan(static_cast<std::size_t>(old_end - start));
  start = old_end;
}

// Walks the buffered segments that overlap [start, end): holes between them are filled with
// this segment's bytes (delivered directly if at next_, else copied), overlaps are compared.
// First copy wins; a differing later copy is kept as a conflict to report once delivered.
void StreamReassembler::buffer_or_deliver(std::uint64_t start, Bytes payload,
                                          StreamSink& sink) {
  if (!ooo_) ooo_ = std::make_unique<OutOfOrder>();
  auto& segs = ooo_->segments;
  const std::uint64_t end = start + payload.size();
  auto it = segs.lower_bound(start);
  if (it != segs.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size() > start) it = prev;
  }
  bool buffered_any = false;
  bool overlapped = false;
  bool conflicted = false;
  auto place = [&](std::uint64_t from, std::uint64_t to) {
    const Bytes piece = payload.subspan(from - start, to - from);
    if (from == next_) {
      // Only the first piece can be here; buffered segments after it stay for drain().
      deliver(piece, sink);
      return;
    }
    segs.emplace_hint(it, from, std::vector<std::uint8_t>(piece.begin(), piece.end()));
    add_buffered(piece.size());
    buffered_any = true;
  };
  std::uint64_t cursor = start;
  while (cursor < end && it != segs.end() && it->first < end) {
    const std::uint64_t bstart = it->first;
    const std::uint64_t bend = bstart + it->second.size();
    if (bstart > cursor) {
      place(cursor, bstart);
      cursor = bstart;
    }
    const std::uint64_t ov_end = std::min(end, bend);
    const Bytes mine = payload.subspan(cursor - start, ov_end - cursor);
    const Bytes kept = Bytes(it->second).subspan(cursor - bstart, ov_end - cursor);
    if (!same_bytes(mine, kept)) {
      conflicted = true;
      ooo_->conflicts.push_back(Conflict{cursor, {mine.begin(), mine.end()}});
      add_buffered(mine.size());
    }
    overlapped = true;
    counters_.retransmitted_bytes += mine.size();
    cursor = ov_end;
    ++it;
  }
  if (cursor < end) place(cursor, end);
  if (buffered_any) ++counters_.out_of_order_segments;
  if (overlapped) ++counters_.overlaps;
  if (conflicted) ++counters_.overlap_conflicts;
}

void StreamReassembler::deliver(Bytes data, StreamSink& sink) {
  sink.on_data(data);
  next_ += data.size();
  tail_append(data);
}

// Delivers buffered segments that now continue the stream, and the conflicts they settle.
void StreamReassembler::drain(StreamSink& sink) {
  if (!ooo_) return;
  auto& segs = ooo_->segments;
  while (!segs.empty() && segs.begin()->first == next_) {
    auto node = segs.extract(segs.begin());
    sub_buffered(node.mapped().size());
    deliver(node.mapped(), sink);
    auto& conflicts = ooo_->conflicts;
    for (auto c = conflicts.begin(); c != conflicts.end();) {
      if (c->offset + c->bytes.size() <= next_) {
        sink.on_conflict(c->bytes, next_ - c->offset);
        sub_buffered(c->bytes.size());
        c = conflicts.erase(c);
      } else {
        ++c;
      }
    }
  }
}

bool StreamReassembler::skip_to_buffered(StreamSink& sink, bool because_of_cap) {
  if (!ooo_ || ooo_->segments.empty()) return false;
  emit_gap(ooo_->segments.begin()->first - next_, because_of_cap, sink);
  drain(sink);
  return true;
}

void StreamReassembler::flush(StreamSink& sink) {
  while (skip_to_buffered(sink, false)) {
  }
  release_out_of_order_if_empty();
}

void StreamReassembler::reset() {
  sub_buffered(buffered_);
  ooo_.reset();
  release_tail();
  tail_size_ = 0;
  tail_head_ = 0;
  next_ = 0;
  base_seq_ = 0;
  started_ = false;
}

void StreamReassembler::emit_gap(std::uint64_t length, bool because_of_cap, StreamSink& sink) {
  sink.on_gap(length);
  ++counters_.gaps;
  counters_.gap_bytes += length;
  if (because_of_cap) counters_.buffer_cap_drops += length;
  next_ += length;
  tail_size_ = 0;  // what the tail held is no longer adjacent to next_
  tail_head_ = 0;
}

void StreamReassembler::add_buffered(std::uint64_t n) {
  buffered_ += n;
  counters_.buffered_bytes += n;
}

void StreamReassembler::sub_buffered(std::uint64_t n) {
  buffered_ -= n;
  counters_.buffered_bytes -= n;
}

void StreamReassembler::release_out_of_order_if_empty() {
  if (ooo_ && ooo_->segments.empty() && ooo_->conflicts.empty()) ooo_.reset();
}

// The tail grows up to its cap (short sessions never pay for the full ring), then wraps:
// tail_head_ is the oldest byte and the next one overwritten. It grows in two steps at most
// (kTailFirstBytes, then the cap).
void StreamReassembler::tail_append(Bytes data) {
  const std::uint32_t cap = limits_.delivered_tail_bytes;
  if (cap == 0) return;
  if (data.size() >= cap) {
    if (tail_.capacity < cap) {
      release_tail();  // all of it is overwritten: nothing to carry over
      tail_ = empty_tail(cap);
    }
    std::memcpy(tail_.bytes.get(), data.data() + (data.size() - cap), cap);
    tail_size_ = cap;
    tail_head_ = 0;
    return;
  }
  if (tail_size_ < cap) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(cap - tail_size_, data.size()));
    if (tail_.capacity < tail_size_ + n) {
      grow_tail(tail_size_ + n <= kTailFirstBytes ? std::min<std::uint32_t>(cap, kTailFirstBytes)
                                                  : cap);
    }
    std::memcpy(tail_.bytes.get() + tail_size_, data.data(), n);
    tail_size_ += n;
    data = data.subspan(n);
  }
  while (!data.empty()) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(cap - tail_head_, data.size()));
    std::memcpy(tail_.bytes.get() + tail_head_, data.data(), n);
    tail_head_ += n;
    if (tail_head_ == cap) tail_head_ = 0;
    data = data.subspan(n);
  }
}

TailBuffer StreamReassembler::empty_tail(std::uint32_t capacity) {
  if (pool_) return pool_->take(capacity);
  return TailBuffer{std::make_unique_for_overwrite<std::uint8_t[]>(capacity), capacity};
}

// A buffer of `capacity` bytes in place of the tail's, holding what the tail holds.
void StreamReassembler::grow_tail(std::uint32_t capacity) {
  TailBuffer bigger = empty_tail(capacity);
  if (tail_size_ > 0) std::memcpy(bigger.bytes.get(), tail_.bytes.get(), tail_size_);
  release_tail();
  tail_ = std::move(bigger);
}

void StreamReassembler::release_tail() {
  if (pool_) pool_->give(tail_);
  else tail_ = TailBuffer{};
}

std::uint8_t StreamReassembler::tail_byte_back(std::uint64_t back) const {
  const std::size_t size = tail_size_;
  if (size < limits_.delivered_tail_bytes) return tail_.bytes[size - back];
  return tail_.bytes[(tail_head_ + size - back) % size];
}

}  // namespace rcptwatch::reassembly
