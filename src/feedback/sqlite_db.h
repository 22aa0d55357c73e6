// Thin RAII wrappers over the SQLite C API, internal to the feedback module: a connection and
// a prepared statement that turn SQLite result codes into Status values, so no raw return
// code leaves this module.
//
// Thread-safety: one Database (and its Statements) per thread at a time; callers that share
// one guard it with their own mutex. Cost: what SQLite costs; binding text is zero-copy
// (SQLITE_STATIC), so a bound view must outlive the statement's next Step()/Reset().
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shelfwatch::feedback::sql {

// Maps an SQLite result code to the project's codes: a full disk or failed I/O is kIoError,
// a damaged file kDataLoss, a locked database kUnavailable.
ErrorCode CodeOf(int sqlite_code);

class Database {
 public:
  Database() = default;
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // sqlite3_open_v2 with `flags` (SQLITE_OPEN_*); kIoError / kDataLoss naming `path`.
  static Result<Database> Open(const std::string& path, int flags);

  sqlite3* get() const { return db_; }
  bool is_open() const { return db_ != nullptr; }
  const std::string& path() const { return path_; }

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // First column of the first row of `sql` as an integer (PRAGMA page_count, count(*)).
  Result<int64_t> QueryInt(std::string_view sql);
  // First column of the first row as text ("wal" from PRAGMA journal_mode).
  Result<std::string> QueryText(std::string_view sql);
  // Status for the connection's last error: "<what> (<path>): <sqlite message>".
  Status Error(int sqlite_code, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  static Result<Statement> Prepare(const Database& db, std::string_view sql);

  // Parameter indexes are 1-based, as in SQLite.
  void BindInt(int index, int64_t value);
  void BindDouble(int index, double value);
  void BindNull(int index);
  void BindText(int index, std::string_view value);
  // Optional columns: empty text, a non-positive count or nullopt bind NULL.
  void BindTextOrNull(int index, std::string_view value);
  void BindPositiveOrNull(int index, int64_t value);
  void BindDoubleOrNull(int index, const std::optional<double>& value);
  void BindBlob(int index, std::string_view bytes);

  // SQLITE_ROW or SQLITE_DONE on success; anything else is an error code for Database::Error.
  int Step();
  // Ready to run again with fresh bindings.
  void Reset();

  // Column indexes are 0-based, as in SQLite.
  bool IsNull(int column) const;
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string_view ColumnText(int column) const;  // valid until the next Step/Reset
  std::string_view ColumnBlob(int column) const;  // valid until the next Step/Reset

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// How a module's SQLite file is opened for writing.
struct WalFile {
  std::string_view what;         // names the file in messages: "event store"
  std::string_view synchronous;  // "FULL" or "NORMAL" (sqlite.org/pragma.html#pragma_synchronous)
  std::string_view schema;       // CREATE ... IF NOT EXISTS statements
  int schema_version = 1;        // kept in PRAGMA user_version
};

// Opens `path` for writing, creating it if missing: WAL mode (kFailedPrecondition where the
// filesystem cannot have it), busy_timeout 5 s, the given synchronous level, the schema.
// kFailedPrecondition for a file written with a newer schema_version; kIoError / kDataLoss
// for files that cannot be opened or are not SQLite databases.
Result<Database> OpenWalForWriting(const std::string& path, const WalFile& file);

// A read-only connection with busy_timeout 5 s (WAL readers never block the writer).
Result<Database> OpenForReading(const std::string& path);

// Runs `body` between BEGIN IMMEDIATE and COMMIT; rolls back when it or the commit fails.
template <typename Fn>
Status InTransaction(Database& db, Fn&& body) {
  SW_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = body();
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

// Percent-encodes a file path for an SQLite URI ("file:<encoded>?mode=ro").
std::string FileUri(std::string_view path, std::string_view query);

}  // namespace shelfwatch::feedback::sql
