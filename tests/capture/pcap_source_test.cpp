// PcapSource on real files written with libpcap: good, missing, not a capture, truncated.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
#include <tuple>
#include <vector>

#include "capture/pcap_source.h"

namespace rcptwatch::capture {
namespace {

namespace fs = std::filesystem;

class PcapSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rw-capture-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `count` Ethernet frames of `size` bytes each, timestamps 1.000001 s apart.
  fs::path write_capture(const std::string& name, int count, std::size_t size) {
    const fs::path path = dir_ / name;
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
    std::vector<u_char> frame(size);
    for (int i = 0; i < count; ++i) {
      pcap_pkthdr h{};
      h.ts.tv_sec = 1000 + i;
      h.ts.tv_usec = 1;
      h.caplen = h.len = static_cast<bpf_u_int32>(size);
      frame[0] = static_cast<u_char>(i);
      pcap_dump(reinterpret_cast<u_char*>(dumper), &h, frame.data());
    }
    pcap_dump_close(dumper);
    pcap_close(dead);
    return path;
  }

  // Three records of 100 bytes, the file cut inside the last one.
  tl::expected<std::unique_ptr<PcapSource>, std::string> open_cut_capture() {
    const fs::path path = write_capture("cut.pcap", 3, 100);
    fs::resize_file(path, fs::file_size(path) - 50);
    return PcapSource::open_file(path.string());
  }

  // read() calls this process has made so far (the kernel's count, /proc/self/io).
  static std::uint64_t read_syscalls() {
    std::ifstream io("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value) {
      if (key == "syscr:") return value;
    }
    ADD_FAILURE() << "no syscr in /proc/self/io";
    return 0;
  }

  fs::path dir_;
};

TEST_F(PcapSourceTest, ReadsEveryPacketWithTimestampsAndLinkType) {
  auto src = PcapSource::open_file(write_capture("ok.pcap", 3, 60));
  ASSERT_TRUE(src) << src.error();
  Packet p;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ((*src)->next(p), NextStatus::Packet);
    EXPECT_EQ(p.ts.usec, (1000 + i) * 1'000'000LL + 1);
    EXPECT_EQ(p.link_type, 1u);
    EXPECT_EQ(p.data.size(), 60u);
    EXPECT_EQ(p.data[0], i);
  }
  EXPECT_EQ((*src)->next(p), NextStatus::End);
  EXPECT_EQ((*src)->stats().packets, 3u);
  EXPECT_EQ((*src)->stats().bytes, 180u);
}

// The FILE libpcap reads is given a 256 KiB buffer: records must come out whole and in order
// across its refills, in captures opened one after another (each source owns its buffer).
TEST_F(PcapSourceTest, RecordsAcrossManyBufferRefillsComeOutWhole) {
  const fs::path path = dir_ / "big.pcap";
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  constexpr int kFrames = 3000;
  auto size_of = [](int i) { return static_cast<std::size_t>(60 + (i * 997) % 1455); };
  auto byte_of = [](int i, std::size_t j) { return static_cast<u_char>(i * 31 + j * 7); };
  std::uint64_t total = 0;
  for (int i = 0; i < kFrames; ++i) {
    std::vector<u_char> frame(size_of(i));
    for (std::size_t j = 0; j < frame.size(); ++j) frame[j] = byte_of(i, j);
    pcap_pkthdr h{};
    h.ts.tv_sec = 1000 + i;
    h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, frame.data());
    total += frame.size();
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
  const std::uintmax_t file_bytes = fs::file_size(path);
  ASSERT_GT(file_bytes, 8u * (256u << 10));  // many refills of the buffer
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t reads_before = read_syscalls();
    auto src = PcapSource::open_file(path.string());
    ASSERT_TRUE(src) << src.error();
    Packet p;
    for (int i = 0; i < kFrames; ++i) {
      ASSERT_EQ((*src)->next(p), NextStatus::Packet) << "frame " << i;
      ASSERT_EQ(p.data.size(), size_of(i)) << "frame " << i;
      for (std::size_t j = 0; j < p.data.size(); ++j) {
        ASSERT_EQ(p.data[j], byte_of(i, j)) << "frame " << i << " byte " << j;
      }
    }
    EXPECT_EQ((*src)->next(p), NextStatus::End);
    EXPECT_EQ((*src)->stats().packets, static_cast<std::uint64_t>(kFrames));
    EXPECT_EQ((*src)->stats().bytes, total);
    // In 256 KiB reads, not glibc's default 4 KiB ones (which would be file_bytes / 4096).
    EXPECT_LE(read_syscalls() - reads_before, file_bytes / (256u << 10) + 8);
  }
}

// What dispatch() handed out, in order: first byte, size and timestamp of each frame.
struct Collected {
  std::vector<std::tuple<int, std::size_t, std::int64_t>> frames;
  void operator()(const Packet& p) { frames.emplace_back(p.data[0], p.data.size(), p.ts.usec); }
};

TEST_F(PcapSourceTest, DispatchHandsOutTheRecordsNextWould) {
  const fs::path path = write_capture("many.pcap", 1000, 80);
  Collected by_next;
  {
    auto src = PcapSource::open_file(path.string());
    ASSERT_TRUE(src) << src.error();
    Packet p;
    while ((*src)->next(p) == NextStatus::Packet) by_next(p);
  }
  ASSERT_EQ(by_next.frames.size(), 1000u);
  auto src = PcapSource::open_file(path.string());
  ASSERT_TRUE(src) << src.error();
  Collected by_dispatch;
  int batches = 0;
  NextStatus status = NextStatus::Packet;
  while ((status = for_each_packet(**src, 7, by_dispatch)) == NextStatus::Packet) ++batches;
  EXPECT_EQ(status, NextStatus::End);
  EXPECT_EQ(batches, 1000 / 7 + 1);  // the last, short one too: the end comes on the next call
  EXPECT_EQ(by_dispatch.frames, by_next.frames);
  EXPECT_EQ((*src)->stats().packets, 1000u);
  EXPECT_EQ((*src)->stats().bytes, 80'000u);
}

TEST_F(PcapSourceTest, DispatchOnATruncatedFileHandsOutTheGoodRecordsThenError) {
  auto src = open_cut_capture();
  ASSERT_TRUE(src) << src.error();
  Collected got;
  EXPECT_EQ(for_each_packet(**src, 256, got), NextStatus::Error);
  EXPECT_EQ(got.frames.size(), 2u);
  EXPECT_NE((*src)->error().find("truncated"), std::string::npos) << (*src)->error();
}

TEST_F(PcapSourceTest, DispatchAfterStopEnds) {
  auto src = PcapSource::open_file(write_capture("stop.pcap", 10, 60));
  ASSERT_TRUE(src) << src.error();
  Collected got;
  EXPECT_EQ(for_each_packet(**src, 4, got), NextStatus::Packet);
  (*src)->stop();
  EXPECT_EQ(for_each_packet(**src, 4, got), NextStatus::End);
  EXPECT_EQ(got.frames.size(), 4u);
}

// The default dispatch (live sources, eBPF, several interfaces) is next() in a loop.
class ScriptedSource final : public PacketSource {
 public:
  explicit ScriptedSource(std::vector<NextStatus> script) : script_(std::move(script)) {}
  NextStatus next(Packet& out) override {
    if (at_ == script_.size()) return NextStatus::End;
    const NextStatus s = script_[at_++];
    if (s == NextStatus::Packet) {
      byte_ = static_cast<std::uint8_t>(at_);
      out.data = Bytes(&byte_, 1);
    }
    return s;
  }
  void stop() override {}
  SourceStats stats() const override { return {}; }
  const std::string& error() const override { return name_; }
  const std::string& name() const override { return name_; }

 private:
  std::vector<NextStatus> script_;
  std::size_t at_ = 0;
  std::uint8_t byte_ = 0;
  std::string name_ = "scripted";
};

TEST(PacketSourceDispatch, DefaultStopsAtTheFirstStatusThatIsNotAPacket) {
  using S = NextStatus;
  ScriptedSource src({S::Packet, S::Packet, S::Packet, S::Timeout, S::Packet, S::Error});
  Collected got;
  EXPECT_EQ(for_each_packet(src, 2, got), S::Packet);   // two handed out, batch full
  EXPECT_EQ(for_each_packet(src, 2, got), S::Timeout);  // one, then nothing arrived
  EXPECT_EQ(for_each_packet(src, 2, got), S::Error);    // one, then the error
  ASSERT_EQ(got.frames.size(), 4u);
  EXPECT_EQ(std::get<0>(got.frames[3]), 5);  // the fifth step of the script
}

TEST_F(PcapSourceTest, MissingFileNamesFileAndCause) {
  auto src = PcapSource::open_file((dir_ / "nope.pcap").string());
  ASSERT_FALSE(src);
  EXPECT_NE(src.error().find("nope.pcap"), std::string::npos);
  EXPECT_NE(src.error().find("No such file"), std::string::npos);
}

TEST_F(PcapSourceTest, TextFileIsNotACapture) {
  const fs::path path = dir_ / "text.pcap";
  std::ofstream(path) << "this is not a capture file\n";
  auto src = PcapSource::open_file(path.string());
  ASSERT_FALSE(src);
  EXPECT_NE(src.error().find("not a pcap"), std::string::npos);
}

TEST_F(PcapSourceTest, EmptyFileIsNotACapture) {
  const fs::path path = dir_ / "empty.pcap";
  std::ofstream(path).flush();
  EXPECT_FALSE(PcapSource::open_file(path.string()));
}

TEST_F(PcapSourceTest, TruncatedFileYieldsPacketsBeforeTheDamageThenError) {
  auto src = open_cut_capture();
  ASSERT_TRUE(src) << src.error();
  Packet p;
  EXPECT_EQ((*src)->next(p), NextStatus::Packet);
  EXPECT_EQ((*src)->next(p), NextStatus::Packet);
  EXPECT_EQ((*src)->next(p), NextStatus::Error);
  EXPECT_NE((*src)->error().find("truncated"), std::string::npos) << (*src)->error();
}

TEST_F(PcapSourceTest, UnknownInterfaceIsAClearError) {
  LiveOptions o;
  auto src = PcapSource::open_live("rwnosuch0", o);
  ASSERT_FALSE(src);
  EXPECT_NE(src.error().find("rwnosuch0"), std::string::npos);
}

}  // namespace
}  // namespace rcptwatch::capture
