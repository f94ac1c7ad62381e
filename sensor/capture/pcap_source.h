// libpcap packet source: a capture file (pcap or pcapng, "-" for stdin) or a live interface.
#pragma once

#include <pcap/pcap.h>

#include <atomic>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "capture/packet_source.h"
#include "capture/pcap_record_reader.h"

namespace rcptwatch::capture {

struct LiveOptions {
  int snaplen = 65535;
  bool promiscuous = true;
  bool immediate = true;
  int buffer_bytes = 0;          // 0: libpcap default
  int poll_timeout_ms = 200;     // how often next() returns Timeout when idle
  std::string bpf_filter;        // empty: no filter
};

class PcapSource final : public PacketSource {
 public:
  // How a capture file's records are read once libpcap has opened it.
  enum class FileReading : std::uint8_t {
    Direct,   // in place from the descriptor (PcapRecordReader) where the file allows, else libpcap
    Libpcap,  // always libpcap (tests compare the two)
  };
  // Opens a capture file; "-" reads standard input. Errors name the file and the cause.
  static tl::expected<std::unique_ptr<PcapSource>, std::string> open_file(
      const std::string& path, FileReading reading = FileReading::Direct);
  // True when the records are read in place rather than through libpcap.
  bool reads_directly() const { return reader_ != nullptr; }
  // Opens a live interface (needs CAP_NET_RAW).
  static tl::expected<std::unique_ptr<PcapSource>, std::string> open_live(
      const std::string& interface, const LiveOptions& options);

  NextStatus next(Packet& out) override;
  // A file: pcap_dispatch, one callback per record. Live: the default (next() in a loop, with
  // its poll).
  NextStatus dispatch(std::size_t max, PacketCallback callback, void* context) override;
  // Live only: one non-blocking read (Timeout when nothing is waiting), for a caller that
  // polls several sources' selectable_fd() together (MultiSource).
  NextStatus try_next(Packet& out);
  int selectable_fd() const { return pcap_get_selectable_fd(handle_.get()); }
  void stop() override;
  SourceStats stats() const override;
  const std::string& error() const override { return error_; }
  const std::string& name() const override { return name_; }

 private:
  struct PcapCloser {
    void operator()(pcap_t* p) const { pcap_close(p); }
  };
  PcapSource(pcap_t* handle, std::string name, bool live, std::unique_ptr<char[]> file_buffer);
  Timestamp to_timestamp(const timeval& tv);
  NextStatus read_one(Packet& out);
  NextStatus read_direct(Packet& out);
  NextStatus dispatch_direct(std::size_t max, PacketCallback callback, void* context);
  // A frame handed out, counted in stats_.
  Packet counted(Timestamp ts, std::uint32_t wire_length, const u_char* data, std::uint32_t caplen);
  // The Packet for a record libpcap returned.
  Packet packet_of(const pcap_pkthdr& header, const u_char* data);
  NextStatus status_of_error(int rc);

  // The capture file's stdio buffer: declared before handle_, so it outlives the FILE that
  // pcap_close() closes.
  std::unique_ptr<char[]> file_buffer_;
  std::unique_ptr<pcap_t, PcapCloser> handle_;
  // Reads the records of handle_'s file in place, when it could take them over; declared after
  // handle_, whose FILE owns the descriptor it reads.
  std::unique_ptr<PcapRecordReader> reader_;
  // stop() for reader_, as pcap_breakloop is for pcap_dispatch.
  std::atomic<bool> stop_requested_{false};
  // Asked once: it cannot change once the handle is open (libpcap refuses a pcapng file whose
  // interfaces differ in link type, and a live handle keeps the one it was activated with).
  std::uint32_t link_type_ = 0;
  std::string name_;
  std::string error_;
  bool live_ = false;
  int poll_timeout_ms_ = 200;
  SourceStats stats_;
};

}  // namespace rcptwatch::capture
