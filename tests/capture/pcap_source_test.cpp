// PcapSource on real files written with libpcap: good, missing, not a capture, truncated.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
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
  const fs::path path = write_capture("cut.pcap", 3, 100);
  fs::resize_file(path, fs::file_size(path) - 50);  // cut inside the last record
  auto src = PcapSource::open_file(path.string());
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
