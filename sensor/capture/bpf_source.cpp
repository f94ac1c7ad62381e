// eBPF capture back-end: loads the embedded skeleton, attaches it at XDP or TC, and reads the
// ring buffer directly (zero copy: a record stays reserved until the next call to next()).
#include "capture/bpf_source.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "capture.h"
#include "capture.skel.h"

namespace rcptwatch::capture {
namespace {

constexpr std::uint32_t kLinkTypeEthernet = 1;
constexpr std::size_t kVerifierLogBytes = 4u << 20;
constexpr std::uint32_t kTcPriority = 1;
constexpr std::uint32_t kTcHandleBase = 0x7277;  // "rw"
constexpr std::uint32_t kTcHandleTries = 16;

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// Capabilities in the effective set that BPF capture needs and this process lacks.
std::string missing_capabilities(bool attach) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return {};
  auto has = [&](int cap) {
    return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
  };
  // CAP_SYS_ADMIN implies CAP_BPF and CAP_PERFMON for bpf(); attaching still needs NET_ADMIN.
  const bool admin = has(CAP_SYS_ADMIN);
  std::string missing;
  auto need = [&](bool ok, const char* name) {
    if (ok) return;
    if (!missing.empty()) missing += ", ";
    missing += name;
  };
  need(admin || has(CAP_BPF), "CAP_BPF");
  need(admin || has(CAP_PERFMON), "CAP_PERFMON");
  need(has(CAP_NET_ADMIN) || !attach, "CAP_NET_ADMIN");
  return missing;
}

bool kernel_has_bpf() {
  // A null attribute is always refused; only a kernel without bpf() says ENOSYS.
  const long rc = syscall(SYS_bpf, BPF_PROG_LOAD, nullptr, 0);
  return !(rc < 0 && errno == ENOSYS);
}

// The tail of a verifier log: the lines that say why (the whole log with -v).
std::string verifier_summary(const std::string& log, bool whole) {
  if (log.empty()) return {};
  if (whole) return "\n--- verifier log ---\n" + log + "--- end of verifier log ---";
  std::size_t end = log.find_last_not_of("\n \0");
  if (end == std::string::npos) return {};
  // The reason is the last line before the "processed N insns" summary, when there is one.
  std::size_t start = log.rfind('\n', end);
  std::string last = log.substr(start == std::string::npos ? 0 : start + 1, end - start);
  if (last.rfind("processed ", 0) == 0 && start != std::string::npos && start > 0) {
    const std::size_t prev = log.rfind('\n', start - 1);
    last = log.substr(prev == std::string::npos ? 0 : prev + 1,
                      start - (prev == std::string::npos ? 0 : prev + 1));
  }
  return ": " + last + " (run with -v for the verifier log)";
}

std::int64_t realtime_minus_monotonic_ns() {
  timespec real{}, mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  return (static_cast<std::int64_t>(real.tv_sec) - mono.tv_sec) * 1'000'000'000 +
         (real.tv_nsec - mono.tv_nsec);
}

struct SkeletonDestroyer {
  void operator()(capture_bpf* skel) const { capture_bpf__destroy(skel); }
};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, std::size_t len) : addr_(addr), len_(len) {}
  Mapping(Mapping&& o) noexcept : addr_(o.addr_), len_(o.len_) { o.addr_ = nullptr; }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      if (addr_ != nullptr) munmap(addr_, len_);
      addr_ = o.addr_;
      len_ = o.len_;
      o.addr_ = nullptr;
    }
    return *this;
  }
  ~Mapping() {
    if (addr_ != nullptr) munmap(addr_, len_);
  }
  std::uint8_t* bytes() const { return static_cast<std::uint8_t*>(addr_); }

 private:
  void* addr_ = nullptr;
  std::size_t len_ = 0;
};

// Consumer side of a BPF_MAP_TYPE_RINGBUF, following the kernel's protocol (as libbpf's
// ringbuf.c does) but handing out one record at a time: the record's space goes back to the
// kernel only when the next one is asked for, so the caller reads it in place.
class RingReader {
 public:
  static tl::expected<RingReader, std::string> open(int map_fd, std::uint32_t size) {
    RingReader r;
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    r.mask_ = size - 1;
    void* cons = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (cons == MAP_FAILED) return tl::unexpected("ring buffer: mmap: " + errno_text(errno));
    r.consumer_ = Mapping(cons, page);
    // The data area is mapped twice back to back, so a record that wraps reads contiguously.
    void* prod = mmap(nullptr, page + 2 * std::size_t{size}, PROT_READ, MAP_SHARED, map_fd,
                      static_cast<off_t>(page));
    if (prod == MAP_FAILED) return tl::unexpected("ring buffer: mmap: " + errno_text(errno));
    r.producer_ = Mapping(prod, page + 2 * std::size_t{size});
    r.data_ = r.producer_.bytes() + page;
    r.epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    if (r.epoll_.get() < 0) return tl::unexpected("epoll_create1: " + errno_text(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (epoll_ctl(r.epoll_.get(), EPOLL_CTL_ADD, map_fd, &ev) != 0) {
      return tl::unexpected("ring buffer: epoll_ctl: " + errno_text(errno));
    }
    r.consumer_pos_ = load_acquire(r.consumer_.bytes());
    return r;
  }

  // Gives back the space of the record handed out last.
  void release() { store_release(consumer_.bytes(), consumer_pos_); }

  // The next committed record, or empty when none is ready.
  Bytes try_next() {
    const std::uint64_t producer_pos = load_acquire(producer_.bytes());
    while (consumer_pos_ < producer_pos) {
      const std::uint8_t* header = data_ + (consumer_pos_ & mask_);
      const std::uint32_t len = __atomic_load_n(reinterpret_cast<const std::uint32_t*>(header),
                                                __ATOMIC_ACQUIRE);
      if ((len & BPF_RINGBUF_BUSY_BIT) != 0) return {};  // reserved, not yet submitted
      const std::uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      consumer_pos_ += (std::uint64_t{size} + BPF_RINGBUF_HDR_SZ + 7) & ~std::uint64_t{7};
      if ((len & BPF_RINGBUF_DISCARD_BIT) != 0) {
        release();
        continue;
      }
      return Bytes(header + BPF_RINGBUF_HDR_SZ, size);
    }
    return {};
  }

  // Waits up to timeout_ms for the kernel to signal new data (false on timeout or signal).
  bool wait(int timeout_ms) const {
    epoll_event ev{};
    return epoll_wait(epoll_.get(), &ev, 1, timeout_ms) > 0;
  }

 private:
  static std::uint64_t load_acquire(const std::uint8_t* p) {
    return __atomic_load_n(reinterpret_cast<const std::uint64_t*>(p), __ATOMIC_ACQUIRE);
  }
  static void store_release(std::uint8_t* p, std::uint64_t v) {
    __atomic_store_n(reinterpret_cast<std::uint64_t*>(p), v, __ATOMIC_RELEASE);
  }

  Mapping consumer_;
  Mapping producer_;
  const std::uint8_t* data_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t consumer_pos_ = 0;
  Fd epoll_;
};

// One interface's attachment; detaches exactly what it attached when destroyed.
class InterfaceAttachment {
 public:
  InterfaceAttachment() = default;
  InterfaceAttachment(const InterfaceAttachment&) = delete;
  InterfaceAttachment& operator=(const InterfaceAttachment&) = delete;
  ~InterfaceAttachment() { detach(); }

  std::string name;
  int ifindex = 0;
  Fd xdp_link;  // closing the link detaches the XDP program
  bool tc_ingress = false;
  bool tc_egress = false;
  bpf_tc_opts ingress_opts{};
  bpf_tc_opts egress_opts{};
  bool created_qdisc = false;

  void detach() {
    xdp_link.reset();
    if (tc_ingress) detach_tc(BPF_TC_INGRESS, ingress_opts);
    if (tc_egress) detach_tc(BPF_TC_EGRESS, egress_opts);
    tc_ingress = tc_egress = false;
    if (created_qdisc) {
      // Only a qdisc this process created goes; a pre-existing clsact keeps its filters.
      bpf_tc_hook hook{};
      hook.sz = sizeof hook;
      hook.ifindex = ifindex;
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
      created_qdisc = false;
    }
  }

 private:
  void detach_tc(bpf_tc_attach_point point, const bpf_tc_opts& attached) const {
    bpf_tc_hook hook{};
    hook.sz = sizeof hook;
    hook.ifindex = ifindex;
    hook.attach_point = point;
    // Our filter exactly: the handle and priority the kernel gave it at attach time.
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.handle = attached.handle;
    opts.priority = attached.priority;
    bpf_tc_detach(&hook, &opts);
  }
};

}  // namespace

struct BpfSource::Impl {
  std::unique_ptr<capture_bpf, SkeletonDestroyer> skeleton;
  std::vector<std::unique_ptr<InterfaceAttachment>> interfaces;  // destroyed before the skeleton
  RingReader ring;
  bool record_pending = false;
  bool delivered_since_wait = false;  // records were handed out since the last nap or wait
  std::int64_t clock_offset_ns = 0;
  int poll_timeout_ms = 200;
  std::atomic<bool> stop_requested{false};
  std::vector<std::uint8_t> vlan_scratch;  // frame with an offloaded VLAN tag put back
  int possible_cpus = 1;

  // Once the skeleton is loaded (and attached, or not): the ring reader and the clocks.
  tl::expected<void, std::string> start_reading(const BpfOptions& options);
};

tl::expected<void, std::string> BpfSource::Impl::start_reading(const BpfOptions& options) {
  auto opened = RingReader::open(bpf_map__fd(skeleton->maps.rw_events), options.ring_bytes);
  if (!opened) return tl::unexpected(opened.error());
  ring = std::move(*opened);
  clock_offset_ns = realtime_minus_monotonic_ns();
  poll_timeout_ms = options.poll_timeout_ms;
  vlan_scratch.resize(RW_CLASS_7 + 4);
  possible_cpus = std::max(1, libbpf_num_possible_cpus());
  return {};
}

namespace {

tl::expected<std::unique_ptr<capture_bpf, SkeletonDestroyer>, std::string> load_skeleton(
    const BpfOptions& options, bool attach) {
  if (options.ports.empty() || options.ports.size() > BpfSource::kMaxPorts) {
    return tl::unexpected("eBPF capture: between 1 and " + std::to_string(BpfSource::kMaxPorts) +
                          " ports, got " + std::to_string(options.ports.size()));
  }
  if (!kernel_has_bpf()) {
    return tl::unexpected(std::string(
        "eBPF capture: this kernel has no BPF support (bpf() is missing: CONFIG_BPF_SYSCALL)"));
  }
  if (const std::string missing = missing_capabilities(attach); !missing.empty()) {
    return tl::unexpected("eBPF capture needs capabilities this process lacks: " + missing +
                          " (run as root or grant them)");
  }
  if (!options.libbpf_debug) libbpf_set_print(nullptr);

  std::string log(kVerifierLogBytes, '\0');
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof open_opts;
  open_opts.kernel_log_buf = log.data();
  open_opts.kernel_log_size = log.size();
  std::unique_ptr<capture_bpf, SkeletonDestroyer> skel(capture_bpf__open_opts(&open_opts));
  if (!skel) return tl::unexpected("eBPF capture: cannot open the embedded object: " + errno_text(errno));

  for (std::size_t i = 0; i < options.ports.size(); ++i) skel->rodata->rw_ports[i] = options.ports[i];
  skel->rodata->rw_port_count = static_cast<__u32>(options.ports.size());
  skel->rodata->rw_xdp_drop = options.xdp_drop ? 1 : 0;
  if (bpf_map__set_max_entries(skel->maps.rw_events, options.ring_bytes) != 0) {
    return tl::unexpected("eBPF capture: bad ring buffer size " + std::to_string(options.ring_bytes));
  }
  // Only the programs this hook uses are loaded (tests, with attach == false, load them all).
  if (attach) {
    const bool xdp = options.hook == BpfHook::Xdp;
    bpf_program__set_autoload(skel->progs.rw_xdp, xdp);
    bpf_program__set_autoload(skel->progs.rw_tc_ingress, !xdp);
    bpf_program__set_autoload(skel->progs.rw_tc_egress, !xdp);
  }
  const int err = capture_bpf__load(skel.get());
  if (err != 0) {
    log.resize(std::strlen(log.c_str()));
    if (err == -EPERM || err == -EACCES) {
      if (log.empty()) {
        return tl::unexpected("eBPF capture: the kernel refused to load the program: " +
                              errno_text(err) + " (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN;"
                              " unprivileged BPF or a lockdown may forbid it)");
      }
      return tl::unexpected("eBPF capture: the verifier rejected the program" +
                            verifier_summary(log, options.verbose_errors));
    }
    return tl::unexpected("eBPF capture: cannot load the program: " + errno_text(err) +
                          verifier_summary(log, options.verbose_errors));
  }
  return skel;
}

tl::expected<void, std::string> attach_xdp(InterfaceAttachment& a, int prog_fd, XdpMode mode,
                                           std::string& how) {
  auto try_mode = [&](__u32 flags) {
    bpf_link_create_opts opts{};
    opts.sz = sizeof opts;
    opts.flags = flags;
    const int fd = bpf_link_create(prog_fd, a.ifindex, BPF_XDP, &opts);
    return fd >= 0 ? fd : -errno;  // a link fd, or -errno
  };
  auto explain = [&](int err, const char* mode_name) -> std::string {
    if (err == EBUSY || err == EEXIST) {
      return a.name + ": another XDP program is attached; rcptwatch does not replace it";
    }
    if (err == EOPNOTSUPP) {
      return a.name + ": the driver has no native XDP (try --xdp-mode generic or auto)";
    }
    if (err == EPERM) return a.name + ": cannot attach XDP: needs CAP_NET_ADMIN";
    return a.name + ": cannot attach XDP (" + mode_name + "): " + errno_text(err);
  };
  if (mode == XdpMode::Native || mode == XdpMode::Auto) {
    const int link = try_mode(XDP_FLAGS_DRV_MODE);
    if (link >= 0) {
      a.xdp_link = Fd(link);
      how = "xdp native";
      return {};
    }
    const int err = -link;
    if (mode == XdpMode::Native || (err != EOPNOTSUPP && err != EINVAL)) {
      return tl::unexpected(explain(err, "native"));
    }
  }
  const int link = try_mode(XDP_FLAGS_SKB_MODE);
  if (link < 0) return tl::unexpected(explain(-link, "generic"));
  a.xdp_link = Fd(link);
  how = "xdp generic";
  return {};
}

tl::expected<void, std::string> attach_tc(InterfaceAttachment& a, int ingress_fd, int egress_fd,
                                          std::string& how) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = a.ifindex;
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  const int created = bpf_tc_hook_create(&hook);  // the clsact qdisc
  if (created == 0) {
    a.created_qdisc = true;
  } else if (created != -EEXIST) {
    if (created == -EPERM) return tl::unexpected(a.name + ": cannot add a clsact qdisc: needs CAP_NET_ADMIN");
    return tl::unexpected(a.name + ": cannot add a clsact qdisc: " + errno_text(created));
  }
  for (const auto point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
    hook.attach_point = point;
    bpf_tc_opts& opts = point == BPF_TC_INGRESS ? a.ingress_opts : a.egress_opts;
    // Priority 1 puts the observer in front of existing filters, whose verdicts (mirred,
    // u32 terminal ...) would otherwise end classification before it runs; TC_ACT_UNSPEC
    // then lets them run. Our own handle makes detach remove exactly this filter; a second
    // rcptwatch on the same interface takes the next handle.
    int rc = -EEXIST;
    for (std::uint32_t k = 0; k < kTcHandleTries && rc == -EEXIST; ++k) {
      opts = bpf_tc_opts{};
      opts.sz = sizeof opts;
      opts.prog_fd = point == BPF_TC_INGRESS ? ingress_fd : egress_fd;
      opts.priority = kTcPriority;
      opts.handle = kTcHandleBase + k;
      rc = bpf_tc_attach(&hook, &opts);
    }
    if (rc != 0) {
      return tl::unexpected(a.name + ": cannot attach the TC " +
                            (point == BPF_TC_INGRESS ? "ingress" : "egress") +
                            " filter: " + errno_text(rc));
    }
    (point == BPF_TC_INGRESS ? a.tc_ingress : a.tc_egress) = true;
    opts.prog_fd = 0;
    opts.prog_id = 0;
    opts.flags = 0;
  }
  how = a.created_qdisc ? "tc ingress+egress (clsact created)"
                        : "tc ingress+egress (existing clsact)";
  return {};
}

}  // namespace

BpfSource::BpfSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpfSource::~BpfSource() = default;

tl::expected<std::unique_ptr<BpfSource>, std::string> BpfSource::load_only(
    const BpfOptions& options) {
  auto skel = load_skeleton(options, false);
  if (!skel) return tl::unexpected(skel.error());
  auto impl = std::make_unique<Impl>();
  impl->skeleton = std::move(*skel);
  if (auto started = impl->start_reading(options); !started) {
    return tl::unexpected(started.error());
  }
  auto source = std::unique_ptr<BpfSource>(new BpfSource(std::move(impl)));
  source->name_ = "bpf (not attached)";
  return source;
}

tl::expected<std::unique_ptr<BpfSource>, std::string> BpfSource::open(
    const std::vector<std::string>& interfaces, const BpfOptions& options) {
  if (interfaces.empty()) return tl::unexpected(std::string("eBPF capture: no interface given"));
  // Interfaces first: a typo should not cost a program load.
  std::vector<std::unique_ptr<InterfaceAttachment>> attachments;
  for (const auto& name : interfaces) {
    const unsigned index = if_nametoindex(name.c_str());
    if (index == 0) return tl::unexpected(name + ": no such interface");
    for (const auto& a : attachments) {
      if (a->ifindex == static_cast<int>(index)) return tl::unexpected(name + ": given twice");
    }
    auto a = std::make_unique<InterfaceAttachment>();
    a->name = name;
    a->ifindex = static_cast<int>(index);
    attachments.push_back(std::move(a));
  }
  auto skel = load_skeleton(options, true);
  if (!skel) return tl::unexpected(skel.error());

  auto impl = std::make_unique<Impl>();
  impl->skeleton = std::move(*skel);
  std::vector<BpfAttachment> info;
  for (auto& a : attachments) {
    std::string how;
    tl::expected<void, std::string> attached =
        options.hook == BpfHook::Xdp
            ? attach_xdp(*a, bpf_program__fd(impl->skeleton->progs.rw_xdp), options.xdp_mode, how)
            : attach_tc(*a, bpf_program__fd(impl->skeleton->progs.rw_tc_ingress),
                        bpf_program__fd(impl->skeleton->progs.rw_tc_egress), how);
    impl->interfaces.push_back(std::move(a));  // detached by RAII if a later one fails
    if (!attached) return tl::unexpected(attached.error());
    info.push_back(BpfAttachment{impl->interfaces.back()->name, how});
  }
  if (auto started = impl->start_reading(options); !started) {
    return tl::unexpected(started.error());
  }

  auto source = std::unique_ptr<BpfSource>(new BpfSource(std::move(impl)));
  source->name_ = options.hook == BpfHook::Xdp ? "xdp:" : "tc:";
  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    source->name_ += (i == 0 ? "" : ",") + interfaces[i];
  }
  source->attachment_info_ = std::move(info);
  return source;
}

// How long the consumer lets records gather once it has drained the ring. With the kernel's
// adaptive notification every record that finds the ring empty wakes the consumer, so a
// consumer faster than the traffic paid a wake-up and two syscalls per SMTP packet; a nap
// turns that into one per millisecond. 1 ms at 10 Gbit/s is 1.25 MB, well inside the 16 MiB
// ring, and a passive sensor does not need sub-millisecond latency.
constexpr auto kBatchNap = std::chrono::milliseconds(1);

NextStatus BpfSource::next(Packet& out) {
  Impl& s = *impl_;
  if (s.record_pending) {
    s.ring.release();
    s.record_pending = false;
  }
  bool waited = false;
  while (true) {
    if (s.stop_requested.load(std::memory_order_relaxed)) return NextStatus::End;
    const Bytes record = s.ring.try_next();
    if (record.size() >= sizeof(rw_event)) {
      rw_event event;
      std::memcpy(&event, record.data(), sizeof event);
      const std::size_t captured =
          std::min<std::size_t>(event.captured_length, record.size() - sizeof event);
      Bytes frame = record.subspan(sizeof event, captured);
      std::uint32_t wire = event.wire_length;
      last_record_ = BpfRecordInfo{event.ifindex, event.direction,
                                   (event.flags & RW_FLAG_TRUNCATED) != 0, false};
      if ((event.flags & RW_FLAG_VLAN_OFFLOADED) != 0 && frame.size() >= 12) {
        // Put the tag back after the MAC addresses, where decode expects an inline 802.1Q tag.
        std::uint8_t* dst = s.vlan_scratch.data();
        std::memcpy(dst, frame.data(), 12);
        std::memcpy(dst + 12, &event.vlan_proto, 2);  // already in network order
        dst[14] = static_cast<std::uint8_t>(event.vlan_tci >> 8);
        dst[15] = static_cast<std::uint8_t>(event.vlan_tci & 0xff);
        std::memcpy(dst + 16, frame.data() + 12, frame.size() - 12);
        frame = Bytes(dst, frame.size() + 4);
        wire += 4;
        last_record_.vlan_reinserted = true;
      }
      const std::int64_t ns = static_cast<std::int64_t>(event.timestamp_ns) + s.clock_offset_ns;
      out.ts = Timestamp{ns / 1000};
      out.link_type = kLinkTypeEthernet;
      out.wire_length = wire;
      out.data = frame;
      s.record_pending = true;
      s.delivered_since_wait = true;
      ++stats_.packets;
      stats_.bytes += frame.size();
      return NextStatus::Packet;
    }
    if (!record.empty()) {
      s.ring.release();  // shorter than its header: not from our program; skip it
      continue;
    }
    if (s.delivered_since_wait) {
      s.delivered_since_wait = false;
      std::this_thread::sleep_for(kBatchNap);
      continue;
    }
    if (waited || !s.ring.wait(s.poll_timeout_ms)) return NextStatus::Timeout;
    waited = true;
  }
}

void BpfSource::stop() { impl_->stop_requested.store(true, std::memory_order_relaxed); }

BpfCounters BpfSource::counters() const {
  BpfCounters c;
  const int map_fd = bpf_map__fd(impl_->skeleton->maps.rw_counters);
  std::vector<__u64> per_cpu(static_cast<std::size_t>(impl_->possible_cpus));
  std::uint64_t* slots[RW_COUNTER_COUNT] = {&c.seen, &c.matched, &c.ringbuf_full, &c.truncated,
                                            &c.malformed};
  for (__u32 key = 0; key < RW_COUNTER_COUNT; ++key) {
    if (bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0) continue;
    for (const __u64 v : per_cpu) *slots[key] += v;
  }
  return c;
}

SourceStats BpfSource::stats() const {
  SourceStats s = stats_;
  const BpfCounters c = counters();
  s.has_kernel_filter = true;
  s.filter_seen = c.seen;
  s.filter_matched = c.matched;
  s.filter_ringbuf_full = c.ringbuf_full;
  s.filter_truncated = c.truncated;
  s.filter_malformed = c.malformed;
  s.dropped_by_kernel = c.ringbuf_full;
  return s;
}

int BpfSource::program_fd(BpfProgram program) const {
  const auto& progs = impl_->skeleton->progs;
  switch (program) {
    case BpfProgram::Xdp: return bpf_program__fd(progs.rw_xdp);
    case BpfProgram::TcIngress: return bpf_program__fd(progs.rw_tc_ingress);
    case BpfProgram::TcEgress: return bpf_program__fd(progs.rw_tc_egress);
  }
  return -1;
}

}  // namespace rcptwatch::capture
