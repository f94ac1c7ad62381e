// A reference row for issue #9's table: the floor (bench/pcap_floor: every byte of every packet
// touched) reading through rcptwatch's own capture source instead of calling libpcap itself,
// i.e. PcapSource::open_file and dispatch in batches of 256, exactly as `rcptwatch -r` reads.
// Its distance to the floor is what rcptwatch's reading is worth to a reader that does nothing
// else; rcptwatch's distance to it is the cost of everything after reading.
//   source_floor FILE -> prints "packets=N bytes=N checksum=N", the same as pcap_floor's
#include <cstdio>

#include "capture/pcap_source.h"
#include "floor_sum.h"

int main(int argc, char** argv) {
  using rcptwatch::capture::NextStatus;
  using rcptwatch::capture::Packet;
  if (argc != 2) {
    std::fprintf(stderr, "usage: source_floor FILE\n");
    return 2;
  }
  auto source = rcptwatch::capture::PcapSource::open_file(argv[1]);
  if (!source) {
    std::fprintf(stderr, "source_floor: %s\n", source.error().c_str());
    return 1;
  }
  FloorSum t;
  auto touch = [&](const Packet& p) { t.add(p.data.data(), p.data.size()); };
  NextStatus status;
  while ((status = for_each_packet(**source, 256, touch)) == NextStatus::Packet) {
  }
  if (status == NextStatus::Error) {
    std::fprintf(stderr, "source_floor: %s: %s\n", argv[1], (*source)->error().c_str());
    return 1;
  }
  t.print();
  return 0;
}
