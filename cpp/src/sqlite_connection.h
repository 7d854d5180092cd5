// SQLite's primitives for sqlite_store.cc and sqlite_schema.cc (private to them): one
// connection with its statement cache and busy handler, a statement, a transaction, the
// change-feed write guard, and the row readers. Errors are StoreError naming the file and
// SQLite's reason.
#pragma once

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "change_feed.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/sqlite_store.h"

namespace tokenkeep {
namespace sqlite_detail {

class Statement;

// Read-only on a read-only file system: WAL mode needs a -shm file that SQLite can create or
// that a writer left behind (sqlite.org/wal.html, "Read-Only Databases"). With no pending
// -wal the database file holds everything and nothing can change it through this mount, so
// it is opened immutable=1 (no -shm, no locks). With a -wal (a writer was killed, or writes
// through another mount) it is opened normally: SQLite reads a read-only -shm and -wal.
inline bool open_immutable(const std::string& path, bool read_only) {
  if (!read_only || path == ":memory:") return false;
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0 || (vfs.f_flag & ST_RDONLY) == 0) return false;
  struct stat wal {};
  return ::stat((path + "-wal").c_str(), &wal) != 0 || wal.st_size == 0;
}

// `path` as a file: URI with the immutable flag (RFC 3986 escapes for anything unusual).
inline std::string immutable_uri(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (const unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
      uri.push_back(static_cast<char>(c));
    } else {
      uri += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return uri + "?immutable=1";
}

class Connection {
 public:
  Connection(const std::string& path, const SqliteOptions& options) : path_(path) {
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    // The path is canonical (store_location_resolve): a symlink there now was planted since.
    if (path != ":memory:") flags |= SQLITE_OPEN_NOFOLLOW;
    std::string name = path;
    if (open_immutable(path, options.read_only)) {
      name = immutable_uri(path);
      flags |= SQLITE_OPEN_URI;
    }
    name_ = name;
    flags_ = flags;
    busy_timeout_ms_ = options.busy_timeout_ms;
    open();
  }
  ~Connection() { close(); }

  // In a child after fork(): SQLite forbids using a connection opened by the parent. The
  // inherited one is closed (releasing only this process's locks, of which it has none; the
  // parent's connection keeps its shared lock, so this close never checkpoints or deletes the
  // WAL) and a new one opened.
  void reopen() {
    close();
    open();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }
  bool busy_no_wait_ = false;  // set around a try-lock: fail at once instead of waiting

  // SQLite's default busy handler backs off to 100 ms sleeps, so under steady contention a
  // waiter keeps losing the lock to processes that poll sooner and can run past its timeout.
  // This one polls every 0.2-2 ms (jittered) until the busy timeout, measured on a monotonic
  // clock from the first refusal: waiters queue instead of failing.
  static int busy_wait(void* self, int count) {
    auto* c = static_cast<Connection*>(self);
    if (c->busy_no_wait_) return 0;
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) c->busy_since_ = now;
    if (now - c->busy_since_ >= std::chrono::milliseconds(c->busy_timeout_ms_)) return 0;
    c->jitter_ = c->jitter_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const int cap_us = count < 10 ? 200 + 100 * count : 2000;
    ::usleep(static_cast<useconds_t>(100 + (c->jitter_ >> 33) % static_cast<unsigned>(cap_us)));
    return 1;
  }
  const std::string& path() const { return path_; }

  // Raises StoreError for a failed call, with SQLite's reason and what we were doing.
  [[noreturn]] void raise(int rc, const char* doing) const {
    const int primary = rc & 0xff;
    std::string why;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      why = "database is busy: another connection held the lock longer than the busy timeout (" +
            std::to_string(busy_timeout_ms_) + " ms)";
    } else if (primary == SQLITE_NOTADB) {
      why = "file is not a database";
    } else if (primary == SQLITE_READONLY) {
      why = "database is read-only";
    } else if (primary == SQLITE_FULL) {
      why = "disk is full";
    } else {
      why = sqlite3_errmsg(db_);
      if (primary == SQLITE_IOERR) why = "disk I/O error (" + why + ")";
    }
    fail(ErrorCode::kStoreError, std::string(doing) + " " + path_ + ": " + why);
  }

  void exec(const char* sql, const char* doing) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) raise(rc, doing);
  }

  // A cached prepared statement for `sql` (a string literal), reset and unbound.
  sqlite3_stmt* prepare(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) raise(rc, "cannot prepare a statement on");
    stmts_.emplace(sql, stmt);
    return stmt;
  }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  int busy_timeout_ms_ = 0;
  std::chrono::steady_clock::time_point busy_since_;
  std::uint64_t jitter_ = reinterpret_cast<std::uintptr_t>(this);
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
  std::string name_;
  int flags_ = 0;

  void open() {
    const int rc = sqlite3_open_v2(name_.c_str(), &db_, flags_, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      fail(ErrorCode::kStoreError, "cannot open database " + path_ + ": " + why);
    }
    sqlite3_busy_handler(db_, &Connection::busy_wait, this);
  }
  void close() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    stmts_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
};

// A bound, stepping use of a cached statement; resets it on destruction.
class Statement {
 public:
  Statement(Connection& c, const char* sql) : c_(c), stmt_(c.prepare(sql)) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
  }
  Statement& bind(int i, const std::optional<std::int64_t>& v) {
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }
  Statement& bind(int i, const Digest& d) {
    return check(sqlite3_bind_blob(stmt_, i, d.data(), static_cast<int>(d.size()), SQLITE_STATIC));
  }
  // True while a row is available.
  bool step(const char* doing) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    c_.raise(rc, doing);
  }
  void run(const char* doing) {
    while (step(doing)) {
    }
  }
  // One step of a statement returning no rows: SQLITE_DONE, or the extended code of a
  // constraint violation for the caller to map; any other failure raises.
  int step_or_code() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE || (rc & 0xff) == SQLITE_CONSTRAINT) return rc;
    c_.raise(rc, "cannot write to");
  }
  sqlite3_stmt* handle() const { return stmt_; }
  std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<std::int64_t> opt_i64(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return i64(col);
  }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  Digest digest(int col) const {
    Digest d{};
    const void* p = sqlite3_column_blob(stmt_, col);
    if (p && sqlite3_column_bytes(stmt_, col) == static_cast<int>(d.size()))
      std::memcpy(d.data(), p, d.size());
    return d;
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) c_.raise(rc, "cannot bind a value on");
    return *this;
  }
  Connection& c_;
  sqlite3_stmt* stmt_;
};

// Announces `ids` on the change feed (we hold the write lock) and publishes them when the
// transaction is over, committed or not, so readers never wait on it.
class FeedWrite {
 public:
  FeedWrite(ChangeFeed& feed, const std::vector<std::int64_t>& ids) : feed_(feed) { feed_.write_begin(ids); }
  ~FeedWrite() { feed_.write_finish(); }
  FeedWrite(const FeedWrite&) = delete;
  FeedWrite& operator=(const FeedWrite&) = delete;

 private:
  ChangeFeed& feed_;
};

// BEGIN IMMEDIATE (writers) or BEGIN (readers); rolls back unless commit() was reached.
class Transaction {
 public:
  Transaction(Connection& c, bool write) : c_(c) {
    c_.exec(write ? "BEGIN IMMEDIATE" : "BEGIN", write ? "cannot start a write on" : "cannot read");
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(c_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    c_.exec("COMMIT", "cannot commit to");
    done_ = true;
  }
  // The transaction was already rolled back (by an INSERT OR ROLLBACK that failed).
  void abandon() { done_ = true; }

 private:
  Connection& c_;
  bool done_ = false;
};

inline TokenRecord read_token(const Statement& s) {
  TokenRecord r;
  r.id = s.i64(0);
  r.owner = s.text(1);
  r.name = s.text(2);
  r.scopes = scopes_split(s.text(3));
  r.digest = s.digest(4);
  r.pepper_id = s.text(5);
  r.created_at = s.i64(6);
  r.expires_at = s.opt_i64(7);
  r.last_used_at = s.opt_i64(8);
  r.revoked_at = s.opt_i64(9);
  r.description = s.text(10);
  r.networks = scopes_split(s.text(11));
  return r;
}

inline AuditEvent read_audit(const Statement& s) {
  AuditEvent e;
  e.seq = s.i64(0);
  e.at = s.i64(1);
  e.actor = s.text(2);
  e.action = s.text(3);
  e.token_id = s.opt_i64(4);
  e.owner = s.text(5);
  e.name = s.text(6);
  e.old_scopes = s.text(7);
  e.new_scopes = s.text(8);
  e.detail = s.text(9);
  return e;
}

#define TOKEN_SELECT_FROM                                                                                 \
  "SELECT id, owner, name, scopes, digest, pepper_id, created_at, expires_at, last_used_at, revoked_at, " \
  "description, networks FROM "
#define TOKEN_SELECT TOKEN_SELECT_FROM "tokens "
// A warm start's rows (tokens_recent), in one snapshot: the live tokens used at or after ?1
// and not expired at ?2, the ?3 most recently used, newest first, from the covering partial
// index tokens_warm alone (schema 9; INDEXED BY makes a query the index cannot serve fail to
// prepare instead of scanning the table).
#define RECENT                                                                         \
  TOKEN_SELECT_FROM                                                                    \
  "tokens INDEXED BY tokens_warm WHERE revoked_at IS NULL AND last_used_at >= ?1 AND " \
  "(expires_at IS NULL OR expires_at > ?2) ORDER BY last_used_at DESC LIMIT ?3"

// Creates or upgrades the schema (sqlite_schema.cc): StoreError if the file's schema is newer
// than this code's, or needs an upgrade and `read_only`.
void sqlite_schema_migrate(Connection& c, bool read_only);

}  // namespace sqlite_detail
}  // namespace tokenkeep
