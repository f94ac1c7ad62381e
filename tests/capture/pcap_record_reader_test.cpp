// The in-place record reader against libpcap itself: on good, damaged and truncated classic pcap
// files, PcapSource::open_file(path) (Direct) and open_file(path, Libpcap) must hand out the same
// frames, times and lengths, end the same way with the same error text, and behave the same on
// the calls after an error. Files the reader cannot take must fall back to libpcap.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "capture/pcap_source.h"

namespace rcptwatch::capture {
namespace {

namespace fs = std::filesystem;

struct RecordSpec {
  std::int32_t seconds;
  std::int32_t fraction;
  std::uint32_t caplen;  // bytes that follow in the file
  std::uint32_t len;
};

// A classic pcap file byte by byte, so that every header field can be anything.
class FileBytes {
 public:
  FileBytes(std::uint32_t magic, std::uint16_t major, std::uint16_t minor, std::uint32_t snaplen,
            std::uint32_t linktype) {
    put32(magic);
    put16(major);
    put16(minor);
    put32(0);
    put32(0);
    put32(snaplen);
    put32(linktype);
  }
  FileBytes& record(const RecordSpec& r) {
    put32(static_cast<std::uint32_t>(r.seconds));
    put32(static_cast<std::uint32_t>(r.fraction));
    put32(r.caplen);
    put32(r.len);
    for (std::uint32_t i = 0; i < r.caplen; ++i) bytes_.push_back(static_cast<std::uint8_t>(bytes_.size() * 7 + i));
    return *this;
  }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  void put16(std::uint16_t v) { bytes_.insert(bytes_.end(), {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)}); }
  void put32(std::uint32_t v) {
    put16(static_cast<std::uint16_t>(v));
    put16(static_cast<std::uint16_t>(v >> 16));
  }
  std::vector<std::uint8_t> bytes_;
};

// Everything a source did, as text: compared between the two ways of reading.
std::string trace(PcapSource& src, bool by_dispatch, std::size_t batch) {
  std::string out;
  auto frame = [&](const Packet& p) {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::uint8_t b : p.data) h = (h ^ b) * 1099511628211ULL;
    out += "P " + std::to_string(p.ts.usec) + " " + std::to_string(p.data.size()) + " " +
           std::to_string(p.wire_length) + " " + std::to_string(p.link_type) + " " + std::to_string(h) + "\n";
  };
  // After the first End or Error, three more calls: what a caller that goes on would see.
  int after_end = 0;
  for (int calls = 0; calls < 100000 && after_end < 4; ++calls) {
    NextStatus status;
    if (by_dispatch) {
      status = for_each_packet(src, batch, frame);
    } else {
      Packet p;
      status = src.next(p);
      if (status == NextStatus::Packet) frame(p);
    }
    if (status == NextStatus::Packet && by_dispatch) out += "batch\n";
    if (status == NextStatus::End) out += "End\n";
    if (status == NextStatus::Error) out += "Error " + src.error() + "\n";
    if (status != NextStatus::Packet) ++after_end;
  }
  const SourceStats s = src.stats();
  out += "stats " + std::to_string(s.packets) + " " + std::to_string(s.bytes) + " " +
         std::to_string(s.timestamps_clamped) + "\n";
  return out;
}

class PcapRecordReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("rw-record-reader-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pcap");
  }
  void TearDown() override { fs::remove(path_); }

  void write(const std::vector<std::uint8_t>& bytes, std::size_t size) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(size));
  }

  // Opens the file both ways and compares every way of reading it. Returns whether the direct
  // source read in place (false: it fell back to libpcap), or nullopt if neither could open it.
  std::optional<bool> same_both_ways(const std::string& what) {
    std::optional<bool> direct_used;
    for (int mode = 0; mode < 4; ++mode) {
      const bool by_dispatch = mode > 0;
      const std::size_t batch = mode == 1 ? 1 : mode == 2 ? 3 : 256;
      auto direct = PcapSource::open_file(path_.string());
      auto libpcap = PcapSource::open_file(path_.string(), PcapSource::FileReading::Libpcap);
      EXPECT_EQ(bool(direct), bool(libpcap)) << what;
      if (!direct || !libpcap) {
        if (!direct && !libpcap) {
          EXPECT_EQ(direct.error(), libpcap.error()) << what;
        }
        return std::nullopt;
      }
      EXPECT_FALSE((*libpcap)->reads_directly());
      direct_used = (*direct)->reads_directly();
      const std::string a = trace(**direct, by_dispatch, batch);
      const std::string b = trace(**libpcap, by_dispatch, batch);
      EXPECT_EQ(a, b) << what << " (mode " << mode << ")";
      if (a != b) return direct_used;
    }
    return direct_used;
  }

  fs::path path_;
};

constexpr std::uint32_t kMicro = 0xa1b2c3d4;
constexpr std::uint32_t kNano = 0xa1b23c4d;

// Records of the shapes a file holds: empty, small, longer than the snapshot (cut by libpcap),
// negative and huge times, len below caplen.
FileBytes typical(std::uint32_t magic, std::uint32_t snaplen) {
  FileBytes f(magic, 2, 4, snaplen, DLT_EN10MB);
  f.record({1000, 1, 60, 60})
      .record({1001, 999999, 0, 0})
      .record({-5, -7, 150, 1514})
      .record({0x7fffffff, 1000000, 99, 40})
      .record({1002, 123456789, 1, 1});
  return f;
}

TEST_F(PcapRecordReaderTest, EveryCutOfAFileReadsAsLibpcapReadsIt) {
  for (std::uint32_t magic : {kMicro, kNano}) {
    FileBytes f = typical(magic, 100);  // the 150-byte record is longer than the snapshot
    std::vector<std::uint8_t>& bytes = f.bytes();
    for (std::size_t size = 24; size <= bytes.size(); ++size) {
      write(bytes, size);
      const auto direct = same_both_ways("magic " + std::to_string(magic) + " cut at " + std::to_string(size));
      ASSERT_TRUE(direct.has_value());
      ASSERT_TRUE(*direct) << "the reader should take a native 2.4 Ethernet file";
      if (HasFailure()) return;
    }
  }
}

TEST_F(PcapRecordReaderTest, DamagedRecordHeadersReadAsLibpcapReadsThem) {
  FileBytes f = typical(kMicro, 65535);
  const std::vector<std::uint8_t> good = f.bytes();
  const std::uint32_t values[] = {0,      1,      59,     60,     61,         99,         100,
                                  65535,  65536,  262143, 262144, 262145,     0x7fffffff, 0x80000000,
                                  0xffffffff, 0xfffffff0, 24, 16};
  // Every 32-bit field of the first three record headers (offsets 24, 100, 176 in this file).
  int files = 0;
  for (std::size_t record_at : {std::size_t{24}, std::size_t{24 + 16 + 60}, std::size_t{24 + 16 + 60 + 16}}) {
    for (std::size_t field = 0; field < 4; ++field) {
      for (std::uint32_t v : values) {
        std::vector<std::uint8_t> bytes = good;
        std::memcpy(bytes.data() + record_at + field * 4, &v, 4);
        write(bytes, bytes.size());
        const std::string what = "record at " + std::to_string(record_at) + " field " +
                                 std::to_string(field) + " = " + std::to_string(v);
        ASSERT_TRUE(same_both_ways(what).value_or(false)) << what;
        ++files;
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(files, 3 * 4 * 18);
}

TEST_F(PcapRecordReaderTest, FilesTheReaderCannotTakeFallBackToLibpcap) {
  struct Case {
    const char* what;
    FileBytes file;
  };
  std::vector<Case> cases;
  cases.push_back({"version 2.3", FileBytes(kMicro, 2, 3, 65535, DLT_EN10MB)});
  cases.push_back({"version 2.2 (lengths swapped)", FileBytes(kMicro, 2, 2, 65535, DLT_EN10MB)});
  cases.push_back({"link type null", FileBytes(kMicro, 2, 4, 65535, DLT_NULL)});
  cases.push_back({"link type USB (larger records allowed)", FileBytes(kMicro, 2, 4, 65535, 189)});
  // Byte-swapped: the same header with every field's bytes reversed.
  FileBytes swapped(0xd4c3b2a1, 0x0200, 0x0400, 0xffff0000, 0x01000000);
  cases.push_back({"byte-swapped", swapped});
  for (Case& c : cases) {
    c.file.record({1, 2, 3, 3}).record({4, 5, 6, 6});
    write(c.file.bytes(), c.file.bytes().size());
    const auto direct = same_both_ways(c.what);
    ASSERT_TRUE(direct.has_value()) << c.what;
    EXPECT_FALSE(*direct) << c.what;
  }
  // Link types the reader does take.
  for (std::uint32_t linktype : {1u, 101u, 113u, 276u}) {
    FileBytes f(kMicro, 2, 4, 0, linktype);  // snaplen 0: libpcap's maximum
    f.record({1, 2, 3, 3}).record({4, 5, 300000, 300000});
    write(f.bytes(), f.bytes().size());
    EXPECT_TRUE(same_both_ways("link type " + std::to_string(linktype)).value_or(false)) << linktype;
  }
}

TEST_F(PcapRecordReaderTest, HeadersLibpcapRefusesAreRefusedWithItsWords) {
  for (std::size_t size : {0, 3, 4, 23}) {
    FileBytes f(kMicro, 2, 4, 65535, DLT_EN10MB);
    write(f.bytes(), size);
    EXPECT_FALSE(same_both_ways("header cut at " + std::to_string(size)).has_value());
  }
  FileBytes archaic(kMicro, 1, 0, 65535, DLT_EN10MB);
  write(archaic.bytes(), archaic.bytes().size());
  EXPECT_FALSE(same_both_ways("version 1.0").has_value());
}

// A file far larger than the reader's buffer, records of every size up to the largest libpcap
// allows, so that records straddle every refill.
TEST_F(PcapRecordReaderTest, LargeRecordsAcrossRefillsReadAsLibpcapReadsThem) {
  FileBytes f(kMicro, 2, 4, 262144, DLT_EN10MB);
  for (std::uint32_t i = 0; i < 40; ++i) {
    const std::uint32_t caplen = (i * 104729u) % 262145u;
    f.record({static_cast<std::int32_t>(i), 0, caplen, caplen});
  }
  f.record({99, 0, 262144, 262144});
  write(f.bytes(), f.bytes().size());
  ASSERT_GT(f.bytes().size(), 4u << 20);
  EXPECT_TRUE(same_both_ways("large records").value_or(false));
}

}  // namespace
}  // namespace rcptwatch::capture
