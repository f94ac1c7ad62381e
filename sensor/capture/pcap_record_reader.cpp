// Classic pcap records read in place; see pcap_record_reader.h.
#include "capture/pcap_record_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rcptwatch::capture {

namespace {

constexpr std::uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr off_t kFileHeaderBytes = 24;
// libpcap's MAXIMUM_SNAPLEN, its limit for every link type taken over here: a record claiming
// more is an error, not a longer packet.
constexpr std::uint32_t kMaxCaplen = 262144;
// How much one read() asks for: the same 256 KiB that suited the FILE libpcap reads through
// (64 KiB, 128 KiB and 1 MiB replayed smtp.pcap no faster).
constexpr std::size_t kChunkBytes = std::size_t{256} << 10;
// A chunk after the unread part of the largest record always fits.
constexpr std::size_t kBufferBytes = kChunkBytes + 16 + kMaxCaplen;

// Link types (as pcap_datalink reports them) that the decoder reads and that libpcap limits to
// kMaxCaplen: Ethernet, raw IP (12 and 14 are DLT_RAW on different systems; 101 is
// LINKTYPE_RAW), Linux cooked v1 and v2.
bool taken_link_type(int dlt) {
  return dlt == DLT_EN10MB || dlt == 12 || dlt == 14 || dlt == 101 || dlt == DLT_LINUX_SLL ||
         dlt == 276;
}

}  // namespace

std::unique_ptr<PcapRecordReader> PcapRecordReader::take_over(pcap_t* handle, int fd) {
  if (pcap_major_version(handle) != 2 || pcap_minor_version(handle) != 4 || pcap_is_swapped(handle) ||
      !taken_link_type(pcap_datalink(handle))) {
    return nullptr;
  }
  std::uint32_t magic = 0;
  if (!may_take(fd) || ::pread(fd, &magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
      ::lseek(fd, 0, SEEK_CUR) != kFileHeaderBytes) {
    return nullptr;
  }
  const int snapshot = pcap_snapshot(handle);
  if (snapshot <= 0 || static_cast<std::uint32_t>(snapshot) > kMaxCaplen) return nullptr;
  return std::unique_ptr<PcapRecordReader>(
      new PcapRecordReader(fd, static_cast<std::uint32_t>(snapshot), magic == kMagicNanoseconds));
}

bool PcapRecordReader::may_take(int fd) {
  struct stat st {};
  std::uint32_t magic = 0;
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
         ::pread(fd, &magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic) &&
         (magic == kMagicMicroseconds || magic == kMagicNanoseconds);
}

PcapRecordReader::PcapRecordReader(int fd, std::uint32_t snapshot, bool nanoseconds)
    : fd_(fd),
      snapshot_(snapshot),
      nanoseconds_(nanoseconds),
      buffer_(std::make_unique_for_overwrite<u_char[]>(kBufferBytes)) {}

std::ptrdiff_t PcapRecordReader::fill(std::size_t need) {
  if (end_ - pos_ >= need || at_eof_) return static_cast<std::ptrdiff_t>(end_ - pos_);
  // The unread part is less than one record: moving it to the front costs little and leaves
  // room for a whole chunk after it.
  std::memmove(buffer_.get(), buffer_.get() + pos_, end_ - pos_);
  end_ -= pos_;
  pos_ = 0;
  while (end_ < need) {
    const ssize_t n = ::read(fd_, buffer_.get() + end_, std::min(kChunkBytes, kBufferBytes - end_));
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("error reading dump file: ") + std::strerror(errno);
      at_eof_ = true;
      return -1;
    }
    if (n == 0) {
      at_eof_ = true;
      break;
    }
    end_ += static_cast<std::size_t>(n);
  }
  return static_cast<std::ptrdiff_t>(end_);
}

PcapRecordReader::Status PcapRecordReader::fail_truncated(const char* what, std::size_t wanted,
                                                          std::size_t got) {
  char message[128];
  std::snprintf(message, sizeof message, "truncated dump file; tried to read %zu %s bytes, only got %zu",
                wanted, what, got);
  error_ = message;
  pos_ = end_;  // libpcap has read to the end of the file: the next call finds End
  return Status::Error;
}

PcapRecordReader::Status PcapRecordReader::next_slow(Record& out) {
  const std::ptrdiff_t header_bytes = fill(kRecordHeaderBytes);
  if (header_bytes < 0) return Status::Error;
  if (header_bytes == 0) return Status::End;
  if (static_cast<std::size_t>(header_bytes) < kRecordHeaderBytes) {
    return fail_truncated("header", kRecordHeaderBytes, static_cast<std::size_t>(header_bytes));
  }
  std::uint32_t caplen = 0;
  std::memcpy(&caplen, buffer_.get() + pos_ + 8, 4);
  if (caplen > kMaxCaplen) {
    char message[128];
    if (caplen > snapshot_) {
      std::snprintf(message, sizeof message, "invalid packet capture length %u, bigger than snaplen of %u",
                    caplen, snapshot_);
    } else {
      std::snprintf(message, sizeof message, "invalid packet capture length %u, bigger than maximum of %u",
                    caplen, kMaxCaplen);
    }
    error_ = message;
    pos_ += kRecordHeaderBytes;  // libpcap has read the header only
    return Status::Error;
  }
  const std::ptrdiff_t record_bytes = fill(kRecordHeaderBytes + caplen);
  if (record_bytes < 0) return Status::Error;
  const std::size_t data_bytes = static_cast<std::size_t>(record_bytes) - kRecordHeaderBytes;
  if (data_bytes < caplen) {
    // A record longer than the snapshot is read up to the snapshot, then the rest skipped.
    if (caplen > snapshot_ && data_bytes < snapshot_) return fail_truncated("captured", snapshot_, data_bytes);
    return fail_truncated("captured", caplen, data_bytes);
  }
  fill_record(buffer_.get() + pos_, out);
  pos_ += kRecordHeaderBytes + caplen;
  return Status::Record;
}

}  // namespace rcptwatch::capture
