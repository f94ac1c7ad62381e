// The floor for issue #9: the least any pcap consumer must do — read every packet with
// libpcap and touch each of its bytes. rcptwatch's replay time is reported as a ratio to this.
//   pcap_floor FILE   -> prints "packets=N bytes=N checksum=N" (the checksum keeps the
//                        byte loop from being optimised away)
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <memory>

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
  const std::unique_ptr<pcap_t, PcapCloser> pcap(pcap_open_offline(argv[1], err));
  if (!pcap) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], err);
    return 1;
  }
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sum = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(pcap.get(), &header, &data)) == 1) {
    ++packets;
    bytes += header->caplen;
    for (std::uint32_t i = 0; i < header->caplen; ++i) sum += data[i];
  }
  if (rc == PCAP_ERROR) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], pcap_geterr(pcap.get()));
    return 1;
  }
  std::printf("packets=%llu bytes=%llu checksum=%llu\n", static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(sum));
  return 0;
}
