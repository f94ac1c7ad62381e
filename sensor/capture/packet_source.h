// The seam between capture back-ends (libpcap file/stdin/live, eBPF ring buffer) and the
// rest of the pipeline: a pull interface that hands out one frame at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/types.h"

namespace rcptwatch::capture {

// One captured frame. `data` is valid until the next call to next().
struct Packet {
  Timestamp ts;
  std::uint32_t link_type = 0;   // libpcap LINKTYPE_* value
  std::uint32_t wire_length = 0; // length on the wire (>= data.size() when snapped)
  Bytes data;
};

enum class NextStatus : std::uint8_t {
  Packet,   // `out` holds a frame
  Timeout,  // live source: nothing arrived within the poll interval
  End,      // no more packets (end of file, or capture stopped)
  Error,    // unrecoverable read error; see error()
};

struct SourceStats {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped_by_kernel = 0;     // pcap_stats ps_drop (live only)
  std::uint64_t dropped_by_interface = 0;  // pcap_stats ps_ifdrop (live only)
  // Packets whose timestamp does not fit Timestamp's int64 microseconds (pcapng allows 64-bit
  // times in any unit): clamped to the nearest representable time.
  std::uint64_t timestamps_clamped = 0;
  // eBPF capture only: the in-kernel filter's counters (ring buffer losses are also
  // dropped_by_kernel; truncated frames were delivered with wire_length > data.size()).
  bool has_kernel_filter = false;
  std::uint64_t filter_seen = 0;
  std::uint64_t filter_matched = 0;
  std::uint64_t filter_ringbuf_full = 0;
  std::uint64_t filter_truncated = 0;
  std::uint64_t filter_malformed = 0;
};

// Called once per frame by PacketSource::dispatch; the frame is valid only during the call.
using PacketCallback = void (*)(void* context, const Packet& packet);

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  virtual NextStatus next(Packet& out) = 0;
  // Hands up to `max` frames (max >= 1) to `callback`, one call each: the same frames in the
  // same order as calling next() repeatedly. Returns Packet while more may follow, else what
  // next() returned that ended the batch (Timeout, End, Error); the frames handed out before
  // it stand. This one loops over next(); a capture file overrides it so that libpcap calls
  // back for each record (pcap_dispatch), which costs less per frame than a pcap_next_ex each.
  virtual NextStatus dispatch(std::size_t max, PacketCallback callback, void* context);
  // Asks a blocking source to return End soon; safe to call from a signal handler's flag loop.
  virtual void stop() = 0;
  virtual SourceStats stats() const = 0;
  // Describes the last error (for NextStatus::Error), e.g. "truncated dump file ...".
  virtual const std::string& error() const = 0;
  // Name for logs and events: the file path or interface name.
  virtual const std::string& name() const = 0;
};

// dispatch() with any callable: for_each_packet(source, 256, [&](const Packet& p) { ... }).
template <class F>
NextStatus for_each_packet(PacketSource& source, std::size_t max, F& f) {
  return source.dispatch(max, [](void* context, const Packet& packet) { (*static_cast<F*>(context))(packet); }, &f);
}

}  // namespace rcptwatch::capture
