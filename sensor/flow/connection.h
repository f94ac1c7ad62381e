// What the stages after TCP see of a connection: its identity, and the stream events
// (data, gap, close) the tracker delivers for each direction.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/types.h"

namespace rcptwatch::flow {

enum class StreamDir : std::uint8_t { ToServer, ToClient };

// How much of the connection the capture holds; reported in alerts so the SOC knows.
enum class CaptureQuality : std::uint8_t {
  Complete,   // handshake seen, both directions
  Midstream,  // no SYN seen: picked up in the middle
  OneSided,   // only client->server traffic seen so far
};

std::string_view to_string(CaptureQuality q);

struct ConnectionInfo {
  std::uint64_t id = 0;  // unique per tracker, in order of creation
  IpAddress client_ip;
  IpAddress server_ip;
  std::uint16_t client_port = 0;
  std::uint16_t server_port = 0;
  Timestamp first_seen;
  bool syn_seen = false;            // roles came from the handshake
  bool server_data_seen = false;    // any payload or ACK from the server side
  CaptureQuality quality() const;
};

// Receives the reassembled byte streams of one connection, in order. Data views are valid
// only during the call.
class StreamConsumer {
 public:
  virtual ~StreamConsumer() = default;
  virtual void on_data(StreamDir dir, Bytes data, Timestamp ts) = 0;
  // `length` bytes in this direction were never seen (lost, or beyond a buffer cap).
  virtual void on_gap(StreamDir dir, std::uint64_t length, Timestamp ts) = 0;
  // Overlapping retransmission carried different bytes than those already delivered at
  // the same stream offset. `alternative` is the other version; `offset_back` is how many
  // bytes before the current end of the delivered stream it starts.
  virtual void on_conflict(StreamDir dir, Bytes alternative, std::uint64_t offset_back,
                           Timestamp ts) = 0;
  // The connection ended (FIN/RST both ways, eviction, or end of capture). Last call.
  virtual void on_close(Timestamp ts) = 0;
};

// Creates the consumer of a new connection. `info` stays valid until on_close() returns.
class StreamConsumerFactory {
 public:
  virtual ~StreamConsumerFactory() = default;
  virtual std::unique_ptr<StreamConsumer> open(const ConnectionInfo& info) = 0;
  // The tracker is done with the consumer it opened for `info` (its on_close() has returned;
  // `info` is still valid during the call). A factory may keep it to serve a later open()
  // instead of allocating one per connection; by default it is destroyed.
  virtual void recycle(const ConnectionInfo& /*info*/,
                       std::unique_ptr<StreamConsumer> /*consumer*/) {}
};

}  // namespace rcptwatch::flow
