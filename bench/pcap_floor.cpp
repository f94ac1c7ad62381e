// The floor for issue #9: the least any pcap consumer must do — read every packet with
// libpcap and touch each of its bytes. rcptwatch's replay time is reported as a ratio to this.
//   pcap_floor FILE   -> prints "packets=N bytes=N checksum=N"
// (bench/source_floor is the same byte sum reading the way rcptwatch reads.)
#include <pcap/pcap.h>

#include <cstdio>
#include <memory>

#include "floor_sum.h"

namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_floor FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> pcap(pcap_open_offline(argv[1], err));
  if (!pcap) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], err);
    return 1;
  }
  FloorSum t;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(pcap.get(), &header, &data)) == 1) t.add(data, header->caplen);
  if (rc == PCAP_ERROR) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], pcap_geterr(pcap.get()));
    return 1;
  }
  t.print();
  return 0;
}
