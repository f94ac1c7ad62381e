// SQLite correspondent store (see correspondent_store.h). Times are packet time, microseconds
// since the epoch; sender identities are 64-bit hashes (observations.h), never addresses.
#include "learn/correspondent_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rcptwatch::learn {
namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS domains(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain TEXT NOT NULL UNIQUE,
  messages INTEGER NOT NULL,
  senders INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  established_at INTEGER);
CREATE INDEX IF NOT EXISTS domains_eviction ON domains((established_at IS NOT NULL), last_seen, id);
CREATE TABLE IF NOT EXISTS senders(
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  sender INTEGER NOT NULL,
  PRIMARY KEY(domain_id, sender)) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', 1);
)SQL";

constexpr const char* kColumns =
    "SELECT id, domain, messages, senders, first_seen, last_seen, established_at FROM domains ";

CorrespondentRecord read_record(const sqlite::Statement& s) {
  CorrespondentRecord r;
  r.id = s.column_int(0);
  r.domain = s.column_text(1);
  r.messages = static_cast<std::uint64_t>(s.column_int(2));
  r.senders = static_cast<std::uint64_t>(s.column_int(3));
  r.first_seen = Timestamp{s.column_int(4)};
  r.last_seen = Timestamp{s.column_int(5)};
  if (!s.column_is_null(6)) r.established_at = Timestamp{s.column_int(6)};
  return r;
}

// PRAGMA quick_check: "ok", or one row per problem found.
sqlite::Status check_integrity(sqlite3* db) {
  auto check = sqlite::Statement::prepare(db, "PRAGMA quick_check");
  if (!check) return tl::unexpected(check.error());
  auto row = check->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(std::string("integrity check returned nothing"));
  const std::string verdict = check->column_text(0);
  if (verdict != "ok") return tl::unexpected("damaged: " + verdict);
  return {};
}

sqlite::Status check_schema(sqlite3* db) {
  auto version = sqlite::Statement::prepare(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!version) return tl::unexpected("not an rcptwatch state database (" + version.error() + ")");
  auto row = version->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row || version->column_int(0) != kSchemaVersion) {
    return tl::unexpected("unsupported schema version (this rcptwatch reads version " +
                          std::to_string(kSchemaVersion) + ")");
  }
  return {};
}

}  // namespace

tl::expected<CorrespondentStore, std::string> CorrespondentStore::open(const std::filesystem::path& file,
                                                                       Access access, std::size_t max_domains) {
  const std::string path = file.string();
  auto fail = [&](const std::string& reason) { return tl::unexpected(path + ": " + reason); };
  if (access == Access::Create) {
    // SQLite reports an unwritable directory only as "unable to open database file"; say why.
    const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return fail("cannot write in " + dir.string() + ": " + std::strerror(errno));
    }
  }
  const sqlite::OpenMode mode = access == Access::Create     ? sqlite::OpenMode::Create
                                : access == Access::Existing ? sqlite::OpenMode::Existing
                                                             : sqlite::OpenMode::ReadOnly;
  auto db = sqlite::open_database(path, mode);
  if (!db) return fail(db.error());
  sqlite3* h = db->get();
  if (access != Access::ReadOnly && sqlite3_db_readonly(h, "main") == 1) return fail("read-only");
  // The first read finds out whether the file is a database at all ("file is not a database").
  if (auto r = check_integrity(h); !r) return fail(r.error());
  if (access != Access::ReadOnly) {
    // WAL: `state show` can read while the sensor writes; NORMAL: a crash may lose the last
    // flush, never corrupt the file.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
      if (auto r = sqlite::exec(h, pragma); !r) return fail(r.error());
    }
  }
  if (auto r = sqlite::exec(h, "PRAGMA foreign_keys=ON"); !r) return fail(r.error());
  if (access == Access::Create) {
    // A new file gets the schema; a database of something else is left alone.
    auto tables = sqlite::Statement::prepare(
        h, "SELECT (SELECT COUNT(*) FROM sqlite_master), (SELECT COUNT(*) FROM sqlite_master WHERE name = 'meta')");
    if (!tables) return fail(tables.error());
    if (auto row = tables->step(); !row || !*row) return fail(row ? std::string("cannot read the schema") : row.error());
    const bool foreign = tables->column_int(0) > 0 && tables->column_int(1) == 0;
    tables->reset();
    if (foreign) return fail("not an rcptwatch state database");
    if (auto r = sqlite::exec(h, kSchema); !r) return fail(r.error());
  }
  if (auto r = check_schema(h); !r) return fail(r.error());
  return CorrespondentStore(path, std::move(*db), max_domains);
}

tl::expected<ApplyResult, std::string> CorrespondentStore::apply(const ObservationBatch& batch) {
  ApplyResult result;
  if (batch.empty()) return result;
  sqlite3* h = db_.get();
  auto tx = sqlite::Transaction::begin(h);
  if (!tx) return tl::unexpected(failed(tx.error()));
  auto upsert = sqlite::Statement::prepare(
      h,
      "INSERT INTO domains(domain, messages, senders, first_seen, last_seen) VALUES(?1, ?2, 0, ?3, ?4) "
      "ON CONFLICT(domain) DO UPDATE SET messages = messages + excluded.messages, "
      "first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen) "
      "RETURNING id, senders, messages");
  auto add_sender = sqlite::Statement::prepare(h, "INSERT OR IGNORE INTO senders(domain_id, sender) VALUES(?1, ?2)");
  auto set_senders = sqlite::Statement::prepare(h, "UPDATE domains SET senders = ?2 WHERE id = ?1");
  for (auto* s : {&upsert, &add_sender, &set_senders}) {
    if (!*s) return tl::unexpected(failed(s->error()));
  }
  for (const ObservationBatch::Entry& e : batch.sorted()) {
    upsert->bind(1, *e.domain)
        .bind(2, static_cast<std::int64_t>(e.seen->messages))
        .bind(3, e.seen->first_seen.usec)
        .bind(4, e.seen->last_seen.usec);
    auto row = upsert->step();
    if (!row || !*row) {
      upsert->reset();
      return tl::unexpected(failed(row ? std::string("upsert returned no row") : row.error()));
    }
    const std::int64_t id = upsert->column_int(0);
    std::int64_t senders = upsert->column_int(1);
    // The row is new when its count is this batch's alone.
    (upsert->column_int(2) == static_cast<std::int64_t>(e.seen->messages) ? result.domains_added
                                                                          : result.domains_updated)++;
    upsert->reset();
    // Sorted so that which hashes fill the last free places does not depend on hash order.
    std::vector<std::uint64_t> hashes = e.seen->senders;
    std::sort(hashes.begin(), hashes.end());
    const std::int64_t before = senders;
    for (std::uint64_t s : hashes) {
      if (senders >= static_cast<std::int64_t>(kMaxSendersPerDomain)) break;
      if (auto r = add_sender->bind(1, id).bind(2, static_cast<std::int64_t>(s)).run(); !r) {
        return tl::unexpected(failed(r.error()));
      }
      senders += sqlite3_changes(h);
    }
    if (senders != before) {
      if (auto r = set_senders->bind(1, id).bind(2, senders).run(); !r) return tl::unexpected(failed(r.error()));
    }
  }
  auto count = domain_count();
  if (!count) return tl::unexpected(count.error());
  if (*count > max_domains_) {
    auto evict = sqlite::Statement::prepare(
        h, "DELETE FROM domains WHERE id IN (SELECT id FROM domains "
           "ORDER BY (established_at IS NOT NULL), last_seen, id LIMIT ?1)");
    if (!evict) return tl::unexpected(failed(evict.error()));
    if (auto r = evict->bind(1, static_cast<std::int64_t>(*count - max_domains_)).run(); !r) {
      return tl::unexpected(failed(r.error()));
    }
    result.evicted = static_cast<std::uint64_t>(sqlite3_changes(h));
  }
  if (auto r = tx->commit(); !r) return tl::unexpected(failed(r.error()));
  return result;
}

tl::expected<std::vector<CorrespondentRecord>, std::string> CorrespondentStore::select(
    std::string_view where_and_order, std::int64_t a, std::int64_t b) {
  auto s = sqlite::Statement::prepare(db_.get(), std::string(kColumns) + std::string(where_and_order));
  if (!s) return tl::unexpected(failed(s.error()));
  if (where_and_order.find("?1") != std::string_view::npos) s->bind(1, a);
  if (where_and_order.find("?2") != std::string_view::npos) s->bind(2, b);
  std::vector<CorrespondentRecord> out;
  for (;;) {
    auto row = s->step();
    if (!row) return tl::unexpected(failed(row.error()));
    if (!*row) break;
    out.push_back(read_record(*s));
  }
  return out;
}

tl::expected<std::vector<CorrespondentRecord>, std::string> CorrespondentStore::candidates(
    std::uint64_t min_messages, std::uint64_t min_senders) {
  return select("WHERE established_at IS NULL AND messages >= ?1 AND senders >= ?2 ORDER BY domain",
                static_cast<std::int64_t>(min_messages), static_cast<std::int64_t>(min_senders));
}

tl::expected<std::vector<CorrespondentRecord>, std::string> CorrespondentStore::established() {
  return select("WHERE established_at IS NOT NULL ORDER BY domain");
}

tl::expected<std::vector<CorrespondentRecord>, std::string> CorrespondentStore::all() {
  return select("ORDER BY domain");
}

tl::expected<void, std::string> CorrespondentStore::mark_established(const std::vector<std::int64_t>& ids,
                                                                     Timestamp at) {
  if (ids.empty()) return {};
  auto tx = sqlite::Transaction::begin(db_.get());
  if (!tx) return tl::unexpected(failed(tx.error()));
  auto s = sqlite::Statement::prepare(db_.get(), "UPDATE domains SET established_at = ?2 WHERE id = ?1");
  if (!s) return tl::unexpected(failed(s.error()));
  for (std::int64_t id : ids) {
    if (auto r = s->bind(1, id).bind(2, at.usec).run(); !r) return tl::unexpected(failed(r.error()));
  }
  if (auto r = tx->commit(); !r) return tl::unexpected(failed(r.error()));
  return {};
}

tl::expected<std::optional<CorrespondentRecord>, std::string> CorrespondentStore::find(std::string_view domain) {
  auto s = sqlite::Statement::prepare(db_.get(), std::string(kColumns) + "WHERE domain = ?1");
  if (!s) return tl::unexpected(failed(s.error()));
  s->bind(1, domain);
  auto row = s->step();
  if (!row) return tl::unexpected(failed(row.error()));
  if (!*row) return std::optional<CorrespondentRecord>();
  return std::optional<CorrespondentRecord>(read_record(*s));
}

tl::expected<bool, std::string> CorrespondentStore::forget(std::string_view domain) {
  auto s = sqlite::Statement::prepare(db_.get(), "DELETE FROM domains WHERE domain = ?1");
  if (!s) return tl::unexpected(failed(s.error()));
  if (auto r = s->bind(1, domain).run(); !r) return tl::unexpected(failed(r.error()));
  return sqlite3_changes(db_.get()) > 0;  // its senders go with it (ON DELETE CASCADE)
}

tl::expected<std::uint64_t, std::string> CorrespondentStore::domain_count() {
  auto s = sqlite::Statement::prepare(db_.get(), "SELECT COUNT(*) FROM domains");
  if (!s) return tl::unexpected(failed(s.error()));
  auto row = s->step();
  if (!row || !*row) return tl::unexpected(failed(row ? std::string("no count") : row.error()));
  return static_cast<std::uint64_t>(s->column_int(0));
}

}  // namespace rcptwatch::learn
