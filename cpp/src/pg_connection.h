// libpq plumbing for the PostgreSQL repository (pg_store.h): one connection with its
// prepared statements, results as RAII values, SQLSTATE mapped to typed errors (the pool that
// shares connections: pg_pool.h). Fork safety: a connection remembers the process that opened
// it; in another process (a child after fork(), say gunicorn --preload) it is dropped without
// a word to the server (PQfinish would end the parent's session) and a new one is opened. No message ever
// carries the connection string's password: errors name host, port and database only.
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_spin.h"

namespace tokenkeep {

// A query result; owns the PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  const PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col));
  }
  std::int64_t i64(int row, int col) const { return std::stoll(PQgetvalue(r_, row, col)); }
  // An int8 column of a binary-format result (PgConnection::query_binary).
  std::int64_t i64_binary(int row, int col) const;
  std::optional<std::int64_t> opt_i64_binary(int row, int col) const {
    if (null(row, col)) return std::nullopt;
    return i64_binary(row, col);
  }
  std::optional<std::int64_t> opt_i64(int row, int col) const {
    if (null(row, col)) return std::nullopt;
    return i64(row, col);
  }
  // A bytea column (text format, "\x..." hex).
  std::string bytes(int row, int col) const;
  std::int64_t affected() const;

 private:
  PGresult* r_;
};

// Query parameters in text format (bytea in hex), NULL as nullopt; add_binary() takes one
// already in binary format (pg_binary.h), which the server reads without parsing.
class PgParams {
 public:
  PgParams& add(std::int64_t v) { return add_text(std::to_string(v)); }
  PgParams& add(const std::string& v) { return add_text(v); }
  PgParams& add(const std::optional<std::int64_t>& v);
  PgParams& add_bytes(const unsigned char* p, std::size_t n);
  PgParams& add_text(std::string v);
  PgParams& add_binary(std::string v);
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values();
  const int* lengths();  // for binary values (text ones are NUL-terminated)
  const int* formats();  // 0 text, 1 binary; nullptr when all are text

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  std::vector<const char*> ptrs_;
  std::vector<int> lengths_;
  bool binary_ = false;
};

// What this thread has asked of PostgreSQL servers, on every connection (PgConnection):
// round trips (each wait for an answer), statements sent, and the waits that first read
// without sleeping (spins) and for how long (spin_ns). Counted per thread so that a test can
// count the work a call makes on the calling thread (a cache miss must cost one round trip
// and one statement) while background threads count their own.
struct PgWireCount {
  std::uint64_t round_trips = 0;
  std::uint64_t statements = 0;
  std::uint64_t spins = 0;
  std::uint64_t spin_ns = 0;
};
PgWireCount pg_wire_count_this_thread();

// A text[] / bigint[] / bytea[] literal for unnest().
std::string pg_array_text(const std::vector<std::string>& items);
std::string pg_array_i64(const std::vector<std::int64_t>& items);
std::string pg_array_opt_i64(const std::vector<std::optional<std::int64_t>>& items);
std::string pg_array_bytes(const std::vector<std::string>& items);

// Host, port and database of a conninfo (never its password), for messages.
std::string pg_describe(const std::string& conninfo);

// Fail fast (docs/ARCHITECTURE.md, "Database down"): libpq connection defaults that a
// conninfo setting its own overrides - connect_timeout (seconds; it bounds the whole
// handshake), TCP keepalives and tcp_user_timeout - and the bound on every statement's
// answer, measured on the client (a link cut with its sockets left open never errors).
inline constexpr const char* kPgConnectDefaults[][2] = {
    {"connect_timeout", "3"},     {"keepalives", "1"},       {"keepalives_idle", "5"},
    {"keepalives_interval", "2"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"},
};
inline constexpr const char* kPgNotChanged = "; nothing was changed";
inline constexpr int kPgQueryTimeoutMs = 3000;       // every statement unless raised
inline constexpr int kPgLongQueryTimeoutMs = 60000;  // bulk work (purge); 0: migrations

// `message` (a libpq error) with every spelling of a password replaced by "[redacted]": the
// password and sslpassword values of `options` (parsed, or PQconninfo of a connection), the
// password as `conninfo` writes it (a URL's %-escaped form) and `conninfo` itself.
std::string pg_redact(std::string message, const PQconninfoOption* options, const std::string& conninfo);

class PgConnection {
 public:
  // Connects; StoreError naming the server (never the password) if it cannot. `prepare`:
  // run() prepares each statement once under a name (false: unnamed statements, parsed on
  // every call, which a transaction-mode pooler such as PgBouncer < 1.21 can carry).
  explicit PgConnection(const std::string& conninfo, bool prepare = true);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* handle() const { return c_; }
  bool inherited() const;  // opened by another process (before a fork)
  bool broken() const { return broken_ || copying_ || PQstatus(c_) != CONNECTION_OK; }

  // The longest any statement waits for its answer from now on (0: no bound). Past it the
  // connection is abandoned (broken) and the call fails with StoreError.
  void timeout_ms(int ms) { timeout_ms_ = ms; }
  // Appended to every error message from now on (PgTransaction: "nothing was changed").
  void error_note(const char* note) { note_ = note; }

  // Simple-protocol command(s), no parameters (BEGIN, COMMIT, SET ..., DDL).
  void exec(const char* sql, const char* doing);
  // A statement prepared once per connection under `sql`'s address (or unnamed: `prepare`). Rows or command
  // status on success; on failure StoreError with what we were doing - except a unique
  // violation (23505), which is returned as an empty optional for the caller to name.
  std::optional<PgResult> run(const char* sql, PgParams& params, const char* doing, bool unique_ok = false);
  PgResult query(const char* sql, PgParams& params, const char* doing) {
    return std::move(*run(sql, params, doing));
  }
  // As query(), the rows in binary format (PgResult::i64_binary; text and bytea as bytes).
  // `critical`: a read on a request's critical path (the cache miss), whose answer await()
  // may wait for spinning (PgSpinPolicy, pg_spin.h).
  PgResult query_binary(const char* sql, PgParams& params, const char* doing, bool critical = false) {
    return std::move(*send_prepared(sql, params, doing, false, 1, critical));
  }
  // `COPY ... FROM STDIN` with `data` as its whole input (pg_binary::CopyRows for FORMAT
  // binary): two round trips (the COPY, then the data and its end). False on a unique
  // violation (23505) if `unique_ok`, StoreError on any other failure.
  bool copy_in(const char* sql, const std::string& data, const char* doing, bool unique_ok = false);
  // The same COPY fed in parts as they are made: copy_begin, copy_put each part (libpq sends
  // what the socket takes, so the server inserts the first rows while the client makes the
  // next), copy_end. One timeout_ms() bounds the whole COPY. A connection left between
  // copy_begin and copy_end (an exception) is broken: the pool drops it.
  void copy_begin(const char* sql, const char* doing);
  void copy_put(std::string_view data, const char* doing);
  bool copy_end(const char* doing, bool unique_ok = false);

  [[noreturn]] void raise(const PGresult* r, const char* doing);
  const std::string& where() const { return where_; }

 private:
  // After a PQsend*: flushes and reads until the answer is complete, within timeout_ms_ on
  // CLOCK_BOOTTIME. The first error result if any, else the last result. A `critical` read
  // may first read the socket without sleeping (spin_, pg_spin.h).
  PGresult* await(const char* doing, bool critical = false);
  std::optional<PgResult> send_prepared(const char* sql, PgParams& params, const char* doing, bool unique_ok,
                                        int result_format, bool critical = false);
  // After a queued send (PQputCopyData/End answered 0): flushes within timeout_ms_.
  void flush_within(std::int64_t deadline, const char* doing);
  [[noreturn]] void fail_link(const char* doing, const std::string& why);
  // run()'s answer: rows or status; an empty optional for a unique violation if `unique_ok`.
  std::optional<PgResult> result_of(PGresult* r, const char* doing, bool unique_ok);

  PGconn* c_ = nullptr;
  pid_t pid_;
  bool broken_ = false;
  bool copying_ = false;  // between copy_begin and copy_end
  std::int64_t copy_deadline_ = 0;
  int timeout_ms_ = kPgQueryTimeoutMs;
  const char* note_ = "";
  std::string where_;
  bool prepare_;
  std::vector<const char*> prepared_;
  PgSpinPolicy spin_;
};

// BEGIN ... COMMIT on one connection; rolls back unless commit() was reached.
class PgTransaction {
 public:
  // Until commit(), every error says the change was not made (it is rolled back).
  PgTransaction(PgConnection& c, const char* begin = "BEGIN") : c_(c) {
    c_.error_note(kPgNotChanged);
    c_.exec(begin, "cannot start a transaction on");
  }
  ~PgTransaction();
  // StoreError if COMMIT fails; its message says whether the change may have been committed
  // (the answer was lost with the link) or was not (the server refused it).
  void commit();

 private:
  PgConnection& c_;
  bool done_ = false;
};

}  // namespace tokenkeep
