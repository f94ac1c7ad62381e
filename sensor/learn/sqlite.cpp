// SQLite RAII wrappers (see sqlite.h): handles, prepared statements, transactions.
#include "learn/sqlite.h"

#include <filesystem>
#include <system_error>

namespace rcptwatch::learn::sqlite {

tl::expected<DatabaseHandle, std::string> open_database(const std::string& path, OpenMode mode) {
  if (mode != OpenMode::Create) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return tl::unexpected(std::string("does not exist"));
  }
  int flags = SQLITE_OPEN_NOMUTEX;  // one thread uses a connection (see correspondent_store.h)
  switch (mode) {
    case OpenMode::Create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case OpenMode::Existing: flags |= SQLITE_OPEN_READWRITE; break;
    case OpenMode::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DatabaseHandle db(raw);  // sqlite3_open_v2 may hand out a handle even when it fails
  if (rc != SQLITE_OK) {
    return tl::unexpected(std::string(db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // A `state forget` while the sensor writes: wait for the lock instead of failing.
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return tl::unexpected(std::move(reason));
  }
  return {};
}

tl::expected<Statement, std::string> Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return tl::unexpected(std::string(sqlite3_errmsg(db)));
  }
  return Statement(db, raw);
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

tl::expected<bool, std::string> Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(std::string(sqlite3_errmsg(db_)));
}

Status Statement::run() {
  for (;;) {
    auto more = step();
    if (!more) {
      reset();
      return tl::unexpected(more.error());
    }
    if (!*more) break;
  }
  reset();
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_.get(), index); }

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL;
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
  const int size = sqlite3_column_bytes(stmt_.get(), index);
  return text != nullptr ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size))
                         : std::string();
}

tl::expected<Transaction, std::string> Transaction::begin(sqlite3* db) {
  if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return tl::unexpected(r.error());
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit() {
  if (auto r = exec(db_, "COMMIT"); !r) return r;  // the destructor rolls back
  db_ = nullptr;
  return {};
}

}  // namespace rcptwatch::learn::sqlite
