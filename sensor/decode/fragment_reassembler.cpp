// IP fragment reassembly: received ranges per datagram, first-received bytes win on overlap,
// packet-time timeouts, and caps on datagrams, bytes and fragments per datagram.
#include "decode/fragment_reassembler.h"

#include <algorithm>
#include <cstring>

namespace rcptwatch::decode {

namespace {
// Neither IPv4 (16-bit total length) nor IPv6 without jumbograms can carry more.
constexpr std::uint64_t kMaxDatagramPayload = 65535;
}  // namespace

void FragmentReassembler::discard(DatagramMap::iterator it, DecodeCounters& counters) {
  Datagram& d = it->second;
  by_deadline_.erase({d.deadline_usec, it->first});
  bytes_held_ -= d.data.size();
  counters.fragments_dropped += d.fragment_count;
  datagrams_.erase(it);
}

void FragmentReassembler::expire(Timestamp now, DecodeCounters& counters) {
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now.usec) {
    const FragmentKey key = by_deadline_.begin()->second;
    auto it = datagrams_.find(key);
    if (it == datagrams_.end()) {  // cannot happen while both indexes agree; stay safe anyway
      by_deadline_.erase(by_deadline_.begin());
      continue;
    }
    ++counters.fragment_datagrams_expired;
    discard(it, counters);
  }
}

// Copies the parts of [offset, offset + data.size()) that no earlier fragment supplied, then
// merges the range into `received`. Returns true when any byte was already held. Keeping the
// first copy matches what most stacks do and, more importantly, gives one deterministic answer.
bool FragmentReassembler::copy_uncovered(Datagram& d, std::uint32_t offset, Bytes data) {
  const auto begin = offset;
  const auto end = static_cast<std::uint32_t>(offset + data.size());
  if (begin == end) {
    return false;
  }
  auto copy = [&](std::uint32_t from, std::uint32_t to) {
    std::memcpy(d.data.data() + from, data.data() + (from - begin), to - from);
  };
  bool overlap = false;
  std::uint32_t cursor = begin;
  for (const Range& r : d.received) {
    if (r.end <= cursor) {
      continue;
    }
    if (r.begin >= end) {
      break;
    }
    if (r.begin > cursor) {
      copy(cursor, r.begin);
    }
    overlap = true;
    cursor = r.end;
    if (cursor >= end) {
      break;
    }
  }
  if (cursor < end) {
    copy(cursor, end);
  }

  // Merge, joining ranges that merely touch so a complete datagram is exactly one range.
  auto first = std::find_if(d.received.begin(), d.received.end(),
                            [&](const Range& r) { return r.end >= begin; });
  auto last = std::find_if(first, d.received.end(), [&](const Range& r) { return r.begin > end; });
  Range merged{begin, end};
  if (first != last) {
    merged.begin = std::min(begin, first->begin);
    merged.end = std::max(end, std::prev(last)->end);
  }
  auto pos = d.received.erase(first, last);
  d.received.insert(pos, merged);
  return overlap;
}

FragmentResult FragmentReassembler::add(const FragmentKey& key, const FragmentPiece& piece,
                                        Timestamp now, DecodeCounters& counters) {
  expire(now, counters);

  const std::uint64_t end64 = std::uint64_t{piece.offset} + piece.data.size();
  if (end64 > kMaxDatagramPayload) {
    return {FragmentOutcome::Malformed, {}, 0};
  }
  // RFC 791 / RFC 8200: every fragment but the last carries a multiple of 8 bytes.
  if (piece.more_fragments && (piece.data.empty() || piece.data.size() % 8 != 0)) {
    return {FragmentOutcome::Malformed, {}, 0};
  }
  const auto end = static_cast<std::uint32_t>(end64);

  auto it = datagrams_.find(key);
  if (it == datagrams_.end()) {
    if (datagrams_.size() >= limits_.max_datagrams) {
      ++counters.fragments_dropped;
      return {FragmentOutcome::Dropped, {}, 0};
    }
    const std::int64_t deadline = now.usec + limits_.timeout_usec;
    it = datagrams_.emplace(key, Datagram{}).first;
    it->second.deadline_usec = deadline;
    by_deadline_.emplace(deadline, key);
  }
  Datagram& d = it->second;

  // A datagram whose fragments disagree about where it ends cannot be rebuilt honestly.
  const bool inconsistent =
      piece.more_fragments
          ? (d.total_length >= 0 && end > d.total_length)
          : ((d.total_length >= 0 && d.total_length != end) ||
             (!d.received.empty() && d.received.back().end > end));
  if (inconsistent || d.fragment_count >= limits_.max_fragments_per_datagram) {
    ++counters.fragments_dropped;
    discard(it, counters);
    return {FragmentOutcome::Dropped, {}, 0};
  }

  if (end > d.data.size()) {
    const std::size_t growth = end - d.data.size();
    if (bytes_held_ + growth > limits_.max_bytes) {
      ++counters.fragments_dropped;
      if (d.fragment_count == 0) {
        discard(it, counters);  // created just now for this fragment; leave no empty entry
      }
      return {FragmentOutcome::Dropped, {}, 0};
    }
    d.data.resize(end);
    bytes_held_ += growth;
  }

  if (!piece.more_fragments) {
    d.total_length = end;
  }
  const bool first_fragment_is_new =
      piece.offset == 0 && (d.received.empty() || d.received.front().begin != 0);
  if (first_fragment_is_new) {
    d.first_next_header = piece.next_header;
  }
  if (copy_uncovered(d, piece.offset, piece.data)) {
    ++counters.fragments_overlap;
  }
  ++d.fragment_count;

  const bool complete =
      d.total_length >= 0 &&
      (d.total_length == 0
           ? d.received.empty()
           : (d.received.size() == 1 && d.received.front().begin == 0 &&
              d.received.front().end == d.total_length));
  if (!complete) {
    return {FragmentOutcome::Held, {}, 0};
  }

  FragmentResult result{FragmentOutcome::Complete, {}, d.first_next_header};
  completed_.swap(d.data);
  bytes_held_ -= completed_.size();
  d.fragment_count = 0;  // none of them is dropped: they all made it into the datagram
  d.data.clear();
  by_deadline_.erase({d.deadline_usec, it->first});
  datagrams_.erase(it);
  result.payload = Bytes(completed_.data(), completed_.size());
  ++counters.fragments_reassembled;
  return result;
}

}  // namespace rcptwatch::decode
