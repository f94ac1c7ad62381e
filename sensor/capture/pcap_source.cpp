// libpcap-backed PacketSource for files, stdin and live interfaces.
#include "capture/pcap_source.h"

#include <poll.h>
#include <stdio_ext.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rcptwatch::capture {

namespace {

// The FILE libpcap reads a capture from. By default glibc refills its buffer 4 KiB (st_blksize)
// at a time, so smtp.pcap costs 43,000 read() calls, and locks the FILE twice per packet (a
// record header and its data are two freads) because the sensor has other threads. Replay of
// smtp.pcap took 13-15% less time with a 256 KiB buffer and no locking; a larger buffer gained
// nothing more (the kernel's copy then lands outside the cache). Only the capture thread
// touches this FILE, which is what FSETLOCKING_BYCALLER needs.
constexpr std::size_t kFileBufferBytes = std::size_t{256} << 10;

// False: glibc keeps its own buffer, which is slower but correct.
bool buffer_file(FILE* f, char* buffer) {
  if (std::setvbuf(f, buffer, _IOFBF, kFileBufferBytes) != 0) return false;
  __fsetlocking(f, FSETLOCKING_BYCALLER);
  return true;
}

}  // namespace

PcapSource::PcapSource(pcap_t* handle, std::string name, bool live, std::unique_ptr<char[]> file_buffer)
    : file_buffer_(std::move(file_buffer)),
      handle_(handle),
      link_type_(static_cast<std::uint32_t>(pcap_datalink(handle))),
      name_(std::move(name)),
      live_(live) {}

tl::expected<std::unique_ptr<PcapSource>, std::string> PcapSource::open_file(
    const std::string& path, FileReading reading) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  if (path == "-") {
    // pcap_close() leaves stdin open, so its buffer must outlive every source; and setvbuf
    // is only allowed before the first read, so it is done once.
    static char stdin_buffer[kFileBufferBytes];
    static const bool stdin_buffered [[maybe_unused]] = buffer_file(stdin, stdin_buffer);
    pcap_t* handle = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (handle == nullptr) return tl::unexpected(path + ": not a pcap or pcapng capture: " + errbuf);
    return std::unique_ptr<PcapSource>(new PcapSource(handle, path, false, nullptr));
  }
  // Tried first for a classic pcap file, then, if the reader cannot take it (another version,
  // byte order or link type), the file is opened again for libpcap alone.
  bool direct = reading == FileReading::Direct;
  for (;;) {
    // pcap_open_offline says "No such file" ambiguously for some causes; check first so
    // the message names the real reason.
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      return tl::unexpected(path + ": cannot open: " + std::strerror(errno));
    }
    std::unique_ptr<char[]> buffer;
    direct = direct && PcapRecordReader::may_take(fileno(f));
    if (direct) {
      // Unbuffered, libpcap reads the 24-byte file header and nothing more, leaving the
      // descriptor at the first record for the reader.
      std::setvbuf(f, nullptr, _IONBF, 0);
    } else {
      buffer = std::make_unique_for_overwrite<char[]>(kFileBufferBytes);
      if (!buffer_file(f, buffer.get())) buffer.reset();
    }
    pcap_t* handle = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (handle == nullptr) {
      std::fclose(f);
      return tl::unexpected(path + ": not a pcap or pcapng capture: " + errbuf);
    }
    auto source = std::unique_ptr<PcapSource>(new PcapSource(handle, path, false, std::move(buffer)));
    if (!direct) return source;
    source->reader_ = PcapRecordReader::take_over(handle, fileno(f));
    if (source->reader_) return source;
    direct = false;
  }
}

tl::expected<std::unique_ptr<PcapSource>, std::string> PcapSource::open_live(
    const std::string& interface, const LiveOptions& options) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* raw = pcap_create(interface.c_str(), errbuf);
  if (raw == nullptr) return tl::unexpected(interface + ": " + errbuf);
  std::unique_ptr<pcap_t, PcapCloser> handle(raw);
  pcap_set_snaplen(raw, options.snaplen);
  pcap_set_promisc(raw, options.promiscuous ? 1 : 0);
  pcap_set_timeout(raw, options.poll_timeout_ms);
  pcap_set_immediate_mode(raw, options.immediate ? 1 : 0);
  if (options.buffer_bytes > 0) pcap_set_buffer_size(raw, options.buffer_bytes);
  pcap_set_tstamp_precision(raw, PCAP_TSTAMP_PRECISION_MICRO);
  const int rc = pcap_activate(raw);
  if (rc < 0) {
    std::string why = pcap_geterr(raw);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE) why = "no such interface";
    if (rc == PCAP_ERROR_PERM_DENIED) why = "permission denied (needs CAP_NET_RAW): " + why;
    return tl::unexpected(interface + ": cannot capture: " + why);
  }
  if (!options.bpf_filter.empty()) {
    bpf_program program{};
    if (pcap_compile(raw, &program, options.bpf_filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return tl::unexpected(interface + ": bad BPF filter '" + options.bpf_filter +
                            "': " + pcap_geterr(raw));
    }
    const int set = pcap_setfilter(raw, &program);
    pcap_freecode(&program);
    if (set != 0) return tl::unexpected(interface + ": cannot set filter: " + pcap_geterr(raw));
  }
  // Non-blocking reads plus our own poll(): the capture loop wakes at least every
  // poll_timeout_ms to notice a stop request, whatever libpcap's buffering mode does.
  if (pcap_setnonblock(raw, 1, errbuf) != 0) {
    return tl::unexpected(interface + ": cannot set non-blocking mode: " + errbuf);
  }
  auto source = std::unique_ptr<PcapSource>(new PcapSource(handle.release(), interface, true, nullptr));
  source->poll_timeout_ms_ = options.poll_timeout_ms;
  return source;
}

// tv_sec * 10^6 overflows int64 for pcapng times past year ~294,000 (a corrupt or hostile
// file can hold any 64-bit value): saturate and count instead of overflowing. The bound is
// 2^62 us, not INT64_MAX, so that later stages can add timeouts to packet times safely.
Timestamp PcapSource::to_timestamp(const timeval& tv) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 62;
  std::int64_t usec = 0;
  if (__builtin_mul_overflow(static_cast<std::int64_t>(tv.tv_sec), std::int64_t{1'000'000}, &usec) ||
      __builtin_add_overflow(usec, static_cast<std::int64_t>(tv.tv_usec), &usec) ||
      usec > kLimit || usec < -kLimit) {
    ++stats_.timestamps_clamped;
    usec = tv.tv_sec < 0 ? -kLimit : kLimit;
  }
  return Timestamp{usec};
}

NextStatus PcapSource::next(Packet& out) {
  if (reader_) return read_direct(out);
  const NextStatus first = read_one(out);
  if (first != NextStatus::Timeout || !live_) return first;
  pollfd pfd{pcap_get_selectable_fd(handle_.get()), POLLIN, 0};
  if (::poll(&pfd, 1, poll_timeout_ms_) <= 0) return NextStatus::Timeout;  // idle or EINTR
  return read_one(out);
}

NextStatus PcapSource::try_next(Packet& out) { return read_one(out); }

Packet PcapSource::counted(Timestamp ts, std::uint32_t wire_length, const u_char* data, std::uint32_t caplen) {
  ++stats_.packets;
  stats_.bytes += caplen;
  return Packet{ts, link_type_, wire_length, Bytes(data, caplen)};
}

Packet PcapSource::packet_of(const pcap_pkthdr& header, const u_char* data) {
  return counted(to_timestamp(header.ts), header.len, data, header.caplen);
}

// What a negative libpcap return means.
NextStatus PcapSource::status_of_error(int rc) {
  if (rc != PCAP_ERROR) return NextStatus::End;  // PCAP_ERROR_BREAK: stop() was called
  error_ = pcap_geterr(handle_.get());
  if (error_.empty()) error_ = "read error";
  return NextStatus::Error;
}

NextStatus PcapSource::read_one(Packet& out) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_.get(), &header, &data);
  if (rc == 1) {
    out = packet_of(*header, data);
    return NextStatus::Packet;
  }
  return rc == 0 ? NextStatus::Timeout : status_of_error(rc);
}

// pcap_dispatch on a file hands out each record as it is read, where pcap_next_ex goes through
// a one-shot callback and its own bookkeeping per call: about 100 fewer instructions per
// packet (callgrind, first 100,000 packets of smtp.pcap: 4.4% of a replay).
NextStatus PcapSource::dispatch(std::size_t max, PacketCallback callback, void* context) {
  if (reader_) return dispatch_direct(max, callback, context);
  if (live_) return PacketSource::dispatch(max, callback, context);
  struct Target {
    PcapSource* source;
    PacketCallback callback;
    void* context;
  } target{this, callback, context};
  const auto handler = [](u_char* user, const pcap_pkthdr* header, const u_char* data) {
    Target& t = *reinterpret_cast<Target*>(user);
    t.callback(t.context, t.source->packet_of(*header, data));
  };
  const int cnt = static_cast<int>(std::min<std::size_t>(max, 1 << 20));
  // On a file: a positive count when records were handed out (a short batch means the end,
  // which the next call returns as 0), 0 at the end, negative for a read error (after handing
  // out the records before the damage) or stop().
  const int rc = pcap_dispatch(handle_.get(), cnt, handler, reinterpret_cast<u_char*>(&target));
  if (rc > 0) return NextStatus::Packet;
  return rc == 0 ? NextStatus::End : status_of_error(rc);
}

NextStatus PcapSource::read_direct(Packet& out) {
  PcapRecordReader::Record record;
  switch (reader_->next(record)) {
    case PcapRecordReader::Status::Record:
      out = counted(Timestamp{record.usec}, record.len, record.data, record.caplen);
      return NextStatus::Packet;
    case PcapRecordReader::Status::End:
      return NextStatus::End;
    case PcapRecordReader::Status::Error:
      break;
  }
  error_ = reader_->error();
  return NextStatus::Error;
}

// As pcap_dispatch on a file: a stop() seen before the first record of a batch ends it (and is
// then forgotten), one seen later ends the batch early; a batch cut short by the end of the file
// returns Packet, and the next call End; an error returns Error at once, the frames handed out
// before it standing.
NextStatus PcapSource::dispatch_direct(std::size_t max, PacketCallback callback, void* context) {
  Packet packet;
  for (std::size_t n = 0; n < max; ++n) {
    if (stop_requested_.load(std::memory_order_relaxed)) {
      if (n > 0) return NextStatus::Packet;
      stop_requested_.store(false, std::memory_order_relaxed);
      return NextStatus::End;
    }
    const NextStatus status = read_direct(packet);
    if (status == NextStatus::End && n > 0) return NextStatus::Packet;
    if (status != NextStatus::Packet) return status;
    callback(context, packet);
  }
  return NextStatus::Packet;
}

void PcapSource::stop() {
  stop_requested_.store(true, std::memory_order_relaxed);
  pcap_breakloop(handle_.get());
}

SourceStats PcapSource::stats() const {
  SourceStats s = stats_;
  if (live_) {
    pcap_stat ps{};
    if (pcap_stats(handle_.get(), &ps) == 0) {
      s.dropped_by_kernel = ps.ps_drop;
      s.dropped_by_interface = ps.ps_ifdrop;
    }
  }
  return s;
}

}  // namespace rcptwatch::capture
