// Evidence pcaps: bounded per-flow frame buffers, written out when a flow alerts; see evidence.h.
#include "fleet/evidence.h"

#include <algorithm>
#include <cstring>
#include <system_error>

namespace rcptwatch::fleet {
namespace {

constexpr std::uint32_t kPcapMagicMicros = 0xA1B2C3D4;
constexpr std::uint32_t kSnapLen = 262144;
constexpr std::size_t kRecordHeader = 16;

void put32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }  // host order, as the magic

}  // namespace

tl::expected<std::unique_ptr<EvidenceStore>, std::string> EvidenceStore::open(
    const EvidenceConfig& config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(config.dir, ec);
  if (ec) return tl::unexpected(config.dir.string() + ": cannot create evidence directory: " + ec.message());
  if (!fs::is_directory(config.dir, ec)) {
    return tl::unexpected(config.dir.string() + ": not a directory");
  }
  std::unique_ptr<EvidenceStore> store(new EvidenceStore(config));
  struct Existing {
    fs::file_time_type mtime;
    std::string name;
  };
  std::vector<Existing> existing;
  for (const auto& e : fs::directory_iterator(config.dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".pcap") {
      existing.push_back({e.last_write_time(), e.path().filename().string()});
    }
  }
  if (ec) return tl::unexpected(config.dir.string() + ": cannot list evidence directory: " + ec.message());
  std::sort(existing.begin(), existing.end(), [](const Existing& x, const Existing& y) {
    return x.mtime < y.mtime || (x.mtime == y.mtime && x.name < y.name);
  });
  for (auto& e : existing) store->files_.push_back(std::move(e.name));
  store->rotate();
  return store;
}

EvidenceStore::~EvidenceStore() = default;

void EvidenceStore::append(const FlowKey& key, Timestamp ts, std::uint32_t link_type,
                           std::uint32_t wire_length, Bytes frame) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    evict_until_fits(kRecordHeader + frame.size());
    it = entries_.try_emplace(key).first;
    it->second.link_type = link_type;
    it->second.lru = lru_.insert(lru_.end(), key);
    ++counters_.flows_held;
  }
  Entry& e = it->second;
  if (!e.file_name.empty() && !e.file) return;  // its file was rotated away
  const std::size_t record = kRecordHeader + frame.size();
  if (e.capped || e.bytes_kept + record > config_.max_bytes_per_flow) {
    if (!e.capped) ++counters_.flows_capped;
    e.capped = true;
    ++counters_.frames_over_cap;
    return;
  }
  std::uint8_t header[kRecordHeader];
  const std::int64_t secs = ts.usec / 1'000'000;
  put32(header, static_cast<std::uint32_t>(secs));
  put32(header + 4, static_cast<std::uint32_t>(ts.usec - secs * 1'000'000));
  put32(header + 8, static_cast<std::uint32_t>(frame.size()));
  put32(header + 12, std::max(wire_length, static_cast<std::uint32_t>(frame.size())));
  ++counters_.frames_held;
  e.bytes_kept += record;
  if (e.file) {
    if (std::fwrite(header, 1, sizeof header, e.file.get()) != sizeof header ||
        std::fwrite(frame.data(), 1, frame.size(), e.file.get()) != frame.size()) {
      ++counters_.write_errors;
    }
    return;
  }
  if (!lru_.empty() && std::next(e.lru) != lru_.end()) lru_.splice(lru_.end(), lru_, e.lru);
  if (counters_.bytes_held + record > config_.max_bytes_held) {
    evict_until_fits(record);
    // Eviction may have taken this very flow when it was the only one left.
    it = entries_.find(key);
    if (it == entries_.end()) return;
  }
  it->second.records.insert(it->second.records.end(), header, header + sizeof header);
  it->second.records.insert(it->second.records.end(), frame.begin(), frame.end());
  counters_.bytes_held += record;
}

void EvidenceStore::evict_until_fits(std::size_t incoming) {
  while (!lru_.empty() && counters_.bytes_held + incoming > config_.max_bytes_held) {
    auto it = entries_.find(lru_.front());
    ++counters_.flows_evicted;
    drop_entry(it);
  }
}

void EvidenceStore::drop_entry(std::unordered_map<FlowKey, Entry, FlowKeyHash>::iterator it) {
  Entry& e = it->second;
  if (e.file_name.empty()) {  // still buffering: it holds bytes and an LRU slot
    counters_.bytes_held -= e.records.size();
    lru_.erase(e.lru);
  }
  --counters_.flows_held;
  entries_.erase(it);
}

std::string EvidenceStore::on_alert(const FlowKey& key, std::uint64_t flow_id, Timestamp first_seen) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  Entry& e = it->second;
  if (!e.file_name.empty()) return e.file ? e.file_name : std::string();
  const std::string name = std::to_string(flow_id) + "-" + std::to_string(first_seen.usec) + ".pcap";
  const std::filesystem::path path = config_.dir / name;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) {
    ++counters_.write_errors;
    return {};
  }
  std::uint8_t header[24] = {};
  put32(header, kPcapMagicMicros);
  const std::uint16_t version[2] = {2, 4};
  std::memcpy(header + 4, version, 4);
  put32(header + 16, kSnapLen);
  put32(header + 20, e.link_type);
  if (std::fwrite(header, 1, sizeof header, file.get()) != sizeof header ||
      std::fwrite(e.records.data(), 1, e.records.size(), file.get()) != e.records.size()) {
    ++counters_.write_errors;
    file.reset();
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return {};
  }
  counters_.bytes_held -= e.records.size();
  std::vector<std::uint8_t>().swap(e.records);
  lru_.erase(e.lru);
  e.file = std::move(file);
  e.file_name = name;
  ++counters_.files_written;
  files_.push_back(name);
  rotate();
  return name;
}

void EvidenceStore::on_close(const FlowKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.file_name.empty()) ++counters_.flows_released;
  drop_entry(it);
}

void EvidenceStore::rotate() {
  while (files_.size() > config_.max_files) {
    const std::string oldest = std::move(files_.front());
    files_.pop_front();
    // A connection still writing to it stops: its evidence is gone either way.
    for (auto& [k, e] : entries_) {
      if (e.file && e.file_name == oldest) e.file.reset();
    }
    std::error_code ec;
    std::filesystem::remove(config_.dir / oldest, ec);
    if (ec) ++counters_.write_errors;
    ++counters_.files_rotated;
  }
}

}  // namespace rcptwatch::fleet
