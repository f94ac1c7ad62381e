// Several live libpcap interfaces read as one PacketSource: `-i eth1 -i eth2` with
// --capture pcap. The selectable descriptors are polled together, so an idle interface never
// delays a busy one, and every interface keeps its own pcap_stats for the stats event.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "capture/packet_source.h"
#include "capture/pcap_source.h"

namespace rcptwatch::capture {

class MultiSource final : public PacketSource {
 public:
  // `sources` must be live PcapSources (non-blocking); at least one.
  MultiSource(std::vector<std::unique_ptr<PcapSource>> sources, int poll_timeout_ms);

  NextStatus next(Packet& out) override;
  void stop() override;
  // Sums over the interfaces; per_source() gives each one.
  SourceStats stats() const override;
  const std::string& error() const override { return error_; }
  const std::string& name() const override { return name_; }

  const std::vector<std::unique_ptr<PcapSource>>& sources() const { return sources_; }

 private:
  std::vector<std::unique_ptr<PcapSource>> sources_;
  int poll_timeout_ms_;
  std::size_t next_index_ = 0;  // round robin: a flooded interface cannot starve the others
  bool stopped_ = false;
  std::string name_;
  std::string error_;
};

}  // namespace rcptwatch::capture
