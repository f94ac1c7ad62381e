// RAII for the two SQLite handles the learn stage uses (sqlite3*, sqlite3_stmt*), with errors
// as values: every call that can fail returns tl::expected carrying SQLite's own message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>
#include <tl/expected.hpp>

namespace rcptwatch::learn::sqlite {

using Status = tl::expected<void, std::string>;

struct DatabaseCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;

enum class OpenMode : std::uint8_t {
  Create,     // read-write, created when missing
  Existing,   // read-write, must exist
  ReadOnly,   // must exist, never written
};

// Opens `path`; the error is SQLite's reason (or "does not exist").
tl::expected<DatabaseHandle, std::string> open_database(const std::string& path, OpenMode mode);

// Runs one or more statements that return no rows we need.
Status exec(sqlite3* db, const char* sql);

// A prepared statement. Bind with 1-based indexes; step() until it says no more rows; reset()
// before binding again. The database must outlive it.
class Statement {
 public:
  static tl::expected<Statement, std::string> prepare(sqlite3* db, std::string_view sql);

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_null(int index);
  // true: a row is ready (read it with the column accessors); false: done.
  tl::expected<bool, std::string> step();
  // Steps until done (statements without rows, or whose rows are ignored).
  Status run();
  void reset();

  std::int64_t column_int(int index) const;
  bool column_is_null(int index) const;
  std::string column_text(int index) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  static tl::expected<Transaction, std::string> begin(sqlite3* db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;  // null once committed or moved from
};

}  // namespace rcptwatch::learn::sqlite
