// MultiSource: round-robin non-blocking reads over live pcap handles, poll() when all idle.
#include "capture/multi_source.h"

#include <poll.h>

#include <algorithm>
#include <array>

namespace rcptwatch::capture {

MultiSource::MultiSource(std::vector<std::unique_ptr<PcapSource>> sources, int poll_timeout_ms)
    : sources_(std::move(sources)), poll_timeout_ms_(poll_timeout_ms) {
  for (const auto& s : sources_) name_ += (name_.empty() ? "" : ",") + s->name();
}

NextStatus MultiSource::next(Packet& out) {
  if (stopped_) return NextStatus::End;
  // Two passes at most: read whatever is waiting; if nothing is, poll all, then read again.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t k = 0; k < sources_.size(); ++k) {
      const std::size_t i = (next_index_ + k) % sources_.size();
      const NextStatus st = sources_[i]->try_next(out);
      if (st == NextStatus::Timeout) continue;
      next_index_ = (i + 1) % sources_.size();
      if (st == NextStatus::Error) error_ = sources_[i]->name() + ": " + sources_[i]->error();
      return st;
    }
    if (pass == 1) break;
    constexpr std::size_t kMaxPolled = 64;  // -i is bounded by the option parser
    std::array<pollfd, kMaxPolled> fds{};
    const std::size_t n = std::min(sources_.size(), kMaxPolled);
    for (std::size_t i = 0; i < n; ++i) fds[i] = pollfd{sources_[i]->selectable_fd(), POLLIN, 0};
    if (::poll(fds.data(), static_cast<nfds_t>(n), poll_timeout_ms_) <= 0) break;  // idle, EINTR
  }
  return NextStatus::Timeout;
}

void MultiSource::stop() {
  stopped_ = true;
  for (auto& s : sources_) s->stop();
}

SourceStats MultiSource::stats() const {
  SourceStats total;
  for (const auto& s : sources_) {
    const SourceStats st = s->stats();
    total.packets += st.packets;
    total.bytes += st.bytes;
    total.dropped_by_kernel += st.dropped_by_kernel;
    total.dropped_by_interface += st.dropped_by_interface;
    total.timestamps_clamped += st.timestamps_clamped;
  }
  return total;
}

}  // namespace rcptwatch::capture
