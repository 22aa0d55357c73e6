#include "feedback/sqlite_db.h"

#include <utility>

namespace shelfwatch::feedback::sql {

ErrorCode CodeOf(int sqlite_code) {
  switch (sqlite_code & 0xff) {  // primary code; extended codes keep it in the low byte
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return ErrorCode::kOk;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kDataLoss;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: return ErrorCode::kIoError;
    case SQLITE_TOOBIG:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return ErrorCode::kInvalidArgument;
    default: return ErrorCode::kInternal;
  }
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Result<Database> Database::Open(const std::string& path, int flags) {
  Database db;
  db.path_ = path;
  const int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = db.db_ ? db.Error(rc, "cannot open database")
                      : Status(ErrorCode::kInternal, "cannot open database " + path + ": out of memory");
    return s;
  }
  sqlite3_extended_result_codes(db.db_, 1);
  return db;
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, text);
  return Status::Ok();
}

Result<int64_t> Database::QueryInt(std::string_view sql) {
  auto stmt = Statement::Prepare(*this, sql);
  if (!stmt.ok()) return stmt.status();
  const int rc = stmt->Step();
  if (rc == SQLITE_ROW) return stmt->ColumnInt(0);
  if (rc == SQLITE_DONE) return Status(ErrorCode::kInternal, std::string(sql) + " returned no row");
  return Error(rc, sql);
}

Result<std::string> Database::QueryText(std::string_view sql) {
  auto stmt = Statement::Prepare(*this, sql);
  if (!stmt.ok()) return stmt.status();
  const int rc = stmt->Step();
  if (rc == SQLITE_ROW) return std::string(stmt->ColumnText(0));
  if (rc == SQLITE_DONE) return Status(ErrorCode::kInternal, std::string(sql) + " returned no row");
  return Error(rc, sql);
}

Status Database::Error(int sqlite_code, std::string_view what) const {
  ErrorCode code = CodeOf(sqlite_code);
  if (code == ErrorCode::kOk) code = ErrorCode::kInternal;
  std::string msg(what);
  msg += " (";
  msg += path_;
  msg += "): ";
  msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(sqlite_code);
  return Status(code, std::move(msg));
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Result<Statement> Statement::Prepare(const Database& db, std::string_view sql) {
  Statement stmt;
  const int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt.stmt_, nullptr);
  if (rc != SQLITE_OK) return db.Error(rc, "cannot prepare '" + std::string(sql) + "'");
  return stmt;
}

void Statement::BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
void Statement::BindDouble(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

void Statement::BindText(int index, std::string_view value) {
  // A zero-length text needs a non-null pointer, or SQLite binds NULL.
  sqlite3_bind_text(stmt_, index, value.empty() ? "" : value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}

void Statement::BindTextOrNull(int index, std::string_view value) {
  if (value.empty()) {
    BindNull(index);
  } else {
    BindText(index, value);
  }
}

void Statement::BindPositiveOrNull(int index, int64_t value) {
  if (value > 0) {
    BindInt(index, value);
  } else {
    BindNull(index);
  }
}

void Statement::BindDoubleOrNull(int index, const std::optional<double>& value) {
  if (value) {
    BindDouble(index, *value);
  } else {
    BindNull(index);
  }
}

void Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
}

int Statement::Step() { return sqlite3_step(stmt_); }

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view Statement::ColumnText(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!p) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string_view Statement::ColumnBlob(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (!p) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

Result<Database> OpenWalForWriting(const std::string& path, const WalFile& file) {
  auto opened = Database::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!opened.ok()) return opened.status();
  Database db = std::move(opened).value();
  SW_RETURN_IF_ERROR(db.Exec("PRAGMA busy_timeout = 5000"));
  auto mode = db.QueryText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return FailedPrecondition("cannot use WAL mode for the " + std::string(file.what) + " " + path +
                              " (journal_mode stays '" + *mode + "'); put it on a local filesystem");
  }
  SW_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = " + std::string(file.synchronous)));
  // The writer touches the right edges of the table and its indexes, but random request ids
  // spread index inserts: a 64 MiB page cache keeps the hot pages, and memory-mapped reads
  // (sqlite.org/mmap.html) avoid a pread system call per page it still misses. Profiled on
  // this project's VM, those preads and the paravirtual syscall overhead were most of the
  // ingest CPU.
  SW_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size = -65536"));
  SW_RETURN_IF_ERROR(db.Exec("PRAGMA mmap_size = 268435456"));
  auto version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > file.schema_version) {
    return FailedPrecondition("the " + std::string(file.what) + " " + path +
                              " was written by a newer shelfwatch (schema " + std::to_string(*version) +
                              ", this build reads " + std::to_string(file.schema_version) + ")");
  }
  SW_RETURN_IF_ERROR(InTransaction(db, [&] {
    SW_RETURN_IF_ERROR(db.Exec(file.schema));
    return db.Exec("PRAGMA user_version = " + std::to_string(file.schema_version));
  }));
  return db;
}

Result<Database> OpenForReading(const std::string& path) {
  auto db = Database::Open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  SW_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 5000"));
  return db;
}

std::string FileUri(std::string_view path, std::string_view query) {
  // RFC 3986 unreserved characters and '/' pass; everything else is %XX (sqlite.org/uri.html).
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "file:";
  for (unsigned char c : path) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

}  // namespace shelfwatch::feedback::sql
