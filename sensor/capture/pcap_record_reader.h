// The records of a classic pcap file, read from its descriptor into one buffer and handed out
// in place. libpcap reads a record with two freads: the kernel copies the file into the FILE's
// buffer, and fread copies each record again into libpcap's packet buffer, with its own
// bookkeeping around each call (about 30 of the 191 million instructions of replaying the
// first 100,000 packets of smtp.pcap). Here the kernel's copy is the only one.
//
// libpcap still opens the file and checks its header (PcapSource::open_file); this only takes
// over the records of the common case: version 2.4 in this machine's byte order, micro- or
// nanosecond times, a link type whose largest record libpcap allows is 262,144 bytes. Every
// record is judged as libpcap 1.10 judges it: the same frames, lengths, times, and the same
// error message at the same record for a damaged or truncated file (tests/capture compare the
// two on thousands of damaged files).
#pragma once

#include <pcap/pcap.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace rcptwatch::capture {

class PcapRecordReader {
 public:
  enum class Status : std::uint8_t { Record, End, Error };

  struct Record {
    // The record's time in microseconds. From the file's signed 32-bit seconds and fraction
    // it cannot overflow, nor pass the 2^62 bound of PcapSource's timestamps.
    std::int64_t usec;
    std::uint32_t caplen;  // already cut to the snapshot length, as libpcap does
    std::uint32_t len;
    const u_char* data;    // valid until the next call to next()
  };

  static std::unique_ptr<PcapRecordReader> take_over(pcap_t* handle, int fd);
  // Whether take_over may succeed on this descriptor: a regular file (not a pipe, whose bytes
  // libpcap may already have buffered) with the magic number of a classic pcap file in this
  // machine's byte order. Asked before libpcap opens the file, so that it reads it unbuffered.
  static bool may_take(int fd);

  // The common record, whole in the buffer and within the snapshot, inline; the rest (a
  // refill, a cut, a damaged header, the end) out of line.
  Status next(Record& out) {
    if (end_ - pos_ >= kRecordHeaderBytes) {
      const u_char* header = buffer_.get() + pos_;
      std::uint32_t caplen = 0;
      std::memcpy(&caplen, header + 8, 4);
      if (caplen <= snapshot_ && end_ - pos_ - kRecordHeaderBytes >= caplen) {
        fill_record(header, out);
        pos_ += kRecordHeaderBytes + caplen;
        return Status::Record;
      }
    }
    return next_slow(out);
  }
  // libpcap's wording: "truncated dump file; tried to read 16 header bytes, only got 5".
  const std::string& error() const { return error_; }

  PcapRecordReader(const PcapRecordReader&) = delete;
  PcapRecordReader& operator=(const PcapRecordReader&) = delete;

 private:
  static constexpr std::size_t kRecordHeaderBytes = 16;

  PcapRecordReader(int fd, std::uint32_t snapshot, bool nanoseconds);
  Status next_slow(Record& out);
  // The record whose 16-byte header is at `header` and whose data follows it.
  void fill_record(const u_char* header, Record& out) const {
    std::int32_t seconds = 0;
    std::int32_t fraction = 0;
    std::memcpy(&seconds, header, 4);  // signed, as libpcap reads them
    std::memcpy(&fraction, header + 4, 4);
    std::memcpy(&out.caplen, header + 8, 4);
    std::memcpy(&out.len, header + 12, 4);
    out.caplen = std::min(out.caplen, snapshot_);
    out.usec = std::int64_t{seconds} * 1'000'000 + (nanoseconds_ ? fraction / 1000 : fraction);
    out.data = header + kRecordHeaderBytes;
  }
  // Makes `need` bytes available from pos_ when the file has them; returns how many are
  // available (fewer only at the end of the file), or -1 after a read error (error_ set).
  std::ptrdiff_t fill(std::size_t need);
  Status fail_truncated(const char* what, std::size_t wanted, std::size_t got);

  int fd_;
  std::uint32_t snapshot_;
  bool nanoseconds_;
  bool at_eof_ = false;
  std::unique_ptr<u_char[]> buffer_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::string error_;
};

}  // namespace rcptwatch::capture
