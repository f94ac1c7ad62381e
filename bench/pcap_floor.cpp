// The floor for issue #9: the least any pcap consumer must do — read every packet with
// libpcap and touch each of its bytes. rcptwatch's replay time is reported as a ratio to this.
//   pcap_floor FILE   -> prints "packets=N bytes=N checksum=N" (the checksum keeps the
//                        byte loop from being optimised away)
//   pcap_floor [--stdio-buffer BYTES] [--dispatch] FILE
//                     -> the same, reading the way rcptwatch reads files it leaves to libpcap
//                        (pcapng, stdin; capture/pcap_source.cpp): the capture's FILE given a
//                        BYTES buffer and no locking, and records handed out by pcap_dispatch
//                        instead of one pcap_next_ex call each. (Classic pcap files rcptwatch
//                        reads in place; bench/source_floor is the floor reading that way.)
#include <pcap/pcap.h>
#include <stdio_ext.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

struct Totals {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sum = 0;
  void add(const pcap_pkthdr& header, const u_char* data) {
    ++packets;
    bytes += header.caplen;
    // Summed in a local: `data` is bytes, which may alias the member, so summing into `sum`
    // directly stores it for every byte and is not vectorised (1.8x the instructions).
    std::uint64_t s = 0;
    for (std::uint32_t i = 0; i < header.caplen; ++i) s += data[i];
    sum += s;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t stdio_buffer = 0;
  bool dispatch = false;
  for (; argc > 2; --argc, ++argv) {
    if (std::strcmp(argv[1], "--dispatch") == 0) {
      dispatch = true;
    } else if (std::strcmp(argv[1], "--stdio-buffer") == 0 && argc > 3) {
      char* end = nullptr;
      stdio_buffer = std::strtoull(argv[2], &end, 10);
      if (*end != '\0' || stdio_buffer == 0) {
        std::fprintf(stderr, "pcap_floor: --stdio-buffer: not a positive number of bytes: %s\n", argv[2]);
        return 2;
      }
      --argc;
      ++argv;
    } else {
      break;
    }
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_floor [--stdio-buffer BYTES] [--dispatch] FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  std::vector<char> buffer(stdio_buffer);  // outlives the pcap_t, which closes the FILE
  std::unique_ptr<pcap_t, PcapCloser> pcap;
  if (stdio_buffer == 0) {
    pcap.reset(pcap_open_offline(argv[1], err));
  } else if (FILE* f = std::fopen(argv[1], "rb")) {
    std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    pcap.reset(pcap_fopen_offline(f, err));
    if (!pcap) std::fclose(f);
  } else {
    std::snprintf(err, sizeof err, "%s", std::strerror(errno));
  }
  if (!pcap) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], err);
    return 1;
  }
  Totals t;
  int rc = 0;
  if (dispatch) {
    const auto handler = [](u_char* user, const pcap_pkthdr* header, const u_char* data) {
      reinterpret_cast<Totals*>(user)->add(*header, data);
    };
    while ((rc = pcap_dispatch(pcap.get(), 256, handler, reinterpret_cast<u_char*>(&t))) > 0) {
    }
  } else {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while ((rc = pcap_next_ex(pcap.get(), &header, &data)) == 1) t.add(*header, data);
  }
  if (rc == PCAP_ERROR) {
    std::fprintf(stderr, "pcap_floor: %s: %s\n", argv[1], pcap_geterr(pcap.get()));
    return 1;
  }
  std::printf("packets=%llu bytes=%llu checksum=%llu\n", static_cast<unsigned long long>(t.packets),
              static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.sum));
  return 0;
}
