// eBPF packet source: the capture program of bpf/capture.bpf.c attached at XDP or TC (clsact
// ingress and egress) on one or more interfaces, filtering SMTP in the kernel and handing whole
// Ethernet frames to user space through a BPF ring buffer read without copying.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "capture/packet_source.h"

namespace rcptwatch::capture {

enum class BpfHook : std::uint8_t { Xdp, Tc };
enum class XdpMode : std::uint8_t { Auto, Native, Generic };

struct BpfOptions {
  BpfHook hook = BpfHook::Xdp;
  XdpMode xdp_mode = XdpMode::Auto;  // Auto: native where the driver supports it, else generic
  bool xdp_drop = false;             // XDP: drop what the filter does not keep (tap interfaces)
  std::vector<std::uint16_t> ports{25, 587, 2525};  // at most kMaxPorts
  std::uint32_t ring_bytes = 16u << 20;  // power of two, multiple of the page size
  int poll_timeout_ms = 200;             // how often next() returns Timeout when idle
  bool verbose_errors = false;           // a verifier rejection carries the whole log
  bool libbpf_debug = false;             // let libbpf print its own messages on stderr
};

// One BPF program of the loaded object (for BPF_PROG_TEST_RUN in tests).
enum class BpfProgram : std::uint8_t { Xdp, TcIngress, TcEgress };

// Per-CPU kernel counters, summed. matched = kept by the filter; ringbuf_full frames were kept
// but lost; truncated frames were longer than the largest record (flagged, still delivered).
struct BpfCounters {
  std::uint64_t seen = 0;
  std::uint64_t matched = 0;
  std::uint64_t ringbuf_full = 0;
  std::uint64_t truncated = 0;
  std::uint64_t malformed = 0;
};

// What the last record said beyond the frame itself (tests and diagnostics).
struct BpfRecordInfo {
  std::uint32_t ifindex = 0;
  std::uint8_t direction = 0;  // RW_DIR_* of bpf/capture.h
  bool truncated = false;
  bool vlan_reinserted = false;  // TC: an offloaded tag was put back into the frame
};

// Where and how the program was attached on one interface, for the start-up log.
struct BpfAttachment {
  std::string interface;
  std::string how;  // "xdp native", "xdp generic", "tc ingress+egress (clsact created)" ...
};

class BpfSource final : public PacketSource {
 public:
  static constexpr std::size_t kMaxPorts = 16;

  // Loads the program and attaches it to every interface; on any failure detaches what was
  // attached and returns one line naming the interface and the cause (missing capability,
  // unknown interface, no BPF in the kernel, verifier rejection, another program in the way).
  static tl::expected<std::unique_ptr<BpfSource>, std::string> open(
      const std::vector<std::string>& interfaces, const BpfOptions& options);
  // Loads without attaching: for BPF_PROG_TEST_RUN of program_fd() in tests.
  static tl::expected<std::unique_ptr<BpfSource>, std::string> load_only(const BpfOptions& options);

  ~BpfSource() override;
  BpfSource(const BpfSource&) = delete;
  BpfSource& operator=(const BpfSource&) = delete;

  NextStatus next(Packet& out) override;
  void stop() override;
  SourceStats stats() const override;
  const std::string& error() const override { return error_; }
  const std::string& name() const override { return name_; }

  BpfCounters counters() const;
  const BpfRecordInfo& last_record() const { return last_record_; }
  const std::vector<BpfAttachment>& attachments() const { return attachment_info_; }
  int program_fd(BpfProgram program) const;

 private:
  struct Impl;
  explicit BpfSource(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  std::string name_;
  std::string error_;
  BpfRecordInfo last_record_;
  std::vector<BpfAttachment> attachment_info_;
  SourceStats stats_;
};

}  // namespace rcptwatch::capture
