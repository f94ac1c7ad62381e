// The default PacketSource::dispatch: next() in a loop.
#include "capture/packet_source.h"

namespace rcptwatch::capture {

NextStatus PacketSource::dispatch(std::size_t max, PacketCallback callback, void* context) {
  Packet packet;
  for (std::size_t n = 0; n < max; ++n) {
    const NextStatus status = next(packet);
    if (status != NextStatus::Packet) return status;
    callback(context, packet);
  }
  return NextStatus::Packet;
}

}  // namespace rcptwatch::capture
