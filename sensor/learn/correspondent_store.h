// The correspondent store: recipient domains this sensor has seen mail go to, with message
// counts, distinct senders, first and last seen, and whether each is an established
// correspondent. SQLite, one file under --state-dir, so it survives restarts; bounded by a
// domain cap (least recently seen evicted, established correspondents last) and by the capped
// sender set (kMaxSendersPerDomain hashes per domain). A store belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "common/types.h"
#include "learn/observations.h"
#include "learn/sqlite.h"

namespace rcptwatch::learn {

inline constexpr const char* kStoreFileName = "correspondents.sqlite";
inline constexpr std::int64_t kSchemaVersion = 1;

struct CorrespondentRecord {
  std::int64_t id = 0;  // stable while the domain is stored (never reused: AUTOINCREMENT)
  std::string domain;
  std::uint64_t messages = 0;
  std::uint64_t senders = 0;  // distinct, saturating at kMaxSendersPerDomain
  Timestamp first_seen;
  Timestamp last_seen;
  std::optional<Timestamp> established_at;  // packet time it was promoted; none: not established
};

struct ApplyResult {
  std::uint64_t domains_added = 0;
  std::uint64_t domains_updated = 0;
  std::uint64_t evicted = 0;
};

class CorrespondentStore {
 public:
  enum class Access : std::uint8_t { Create, Existing, ReadOnly };
  // Opens (Create: creates) `file`, checks it is an intact store of this schema version.
  // Errors read "FILE: reason" (not a database, damaged, read-only, wrong schema ...).
  static tl::expected<CorrespondentStore, std::string> open(const std::filesystem::path& file, Access access,
                                                            std::size_t max_domains = 10'000);

  const std::string& path() const { return path_; }

  // Adds a batch in one database transaction, then evicts the least recently seen domains
  // beyond the cap (not-established ones first).
  tl::expected<ApplyResult, std::string> apply(const ObservationBatch& batch);
  // Not yet established, at or over both thresholds; sorted by domain.
  tl::expected<std::vector<CorrespondentRecord>, std::string> candidates(std::uint64_t min_messages,
                                                                         std::uint64_t min_senders);
  tl::expected<void, std::string> mark_established(const std::vector<std::int64_t>& ids, Timestamp at);
  // Established correspondents, sorted by domain.
  tl::expected<std::vector<CorrespondentRecord>, std::string> established();
  // Every domain, sorted by domain.
  tl::expected<std::vector<CorrespondentRecord>, std::string> all();
  tl::expected<std::optional<CorrespondentRecord>, std::string> find(std::string_view domain);
  // false: no such domain.
  tl::expected<bool, std::string> forget(std::string_view domain);
  tl::expected<std::uint64_t, std::string> domain_count();

 private:
  CorrespondentStore(std::string path, sqlite::DatabaseHandle db, std::size_t max_domains)
      : path_(std::move(path)), db_(std::move(db)), max_domains_(max_domains) {}
  tl::expected<std::vector<CorrespondentRecord>, std::string> select(std::string_view where_and_order,
                                                                      std::int64_t a = 0, std::int64_t b = 0);
  std::string failed(const std::string& reason) const { return path_ + ": " + reason; }

  std::string path_;
  sqlite::DatabaseHandle db_;
  std::size_t max_domains_;
};

}  // namespace rcptwatch::learn
