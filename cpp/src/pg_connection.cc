#include "pg_connection.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>

#include "pg_binary.h"
#include "tokenkeep/clock.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

thread_local PgWireCount wire_count;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_of(const unsigned char* p, std::size_t n) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out = "\\x";
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// One element of an array literal: quoted, with " and \ escaped.
void array_element(std::string* out, const std::string& v) {
  *out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') *out += '\\';
    *out += c;
  }
  *out += '"';
}

// The user:password part of a postgresql:// URL as a reader would take it: everything before
// the LAST '@' of the part before any '?' (empty if there is no '@').
std::string_view url_userinfo(std::string_view conninfo) {
  const std::size_t scheme = conninfo.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = conninfo.substr(scheme + 3);
  rest = rest.substr(0, rest.find('?'));
  const std::size_t at = rest.rfind('@');
  return at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
}

const char* option_value(const PQconninfoOption* options, const char* keyword) {
  for (const PQconninfoOption* o = options; o && o->keyword; ++o) {
    if (o->val && std::strcmp(o->keyword, keyword) == 0) return o->val;
  }
  return nullptr;
}

bool is_url(const std::string& conninfo) {
  return conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
}

// Refuses (StoreError, with no libpq text: its parser quotes the string it could not read,
// password and all) a connection string libpq cannot parse, and a URL whose user name or
// password holds an unescaped '@' or '/' (libpq would cut it there and quote the rest as
// a host or database name). Returns the parsed options (PQconninfoFree them).
PQconninfoOption* conninfo_parse_or_refuse(const std::string& conninfo) {
  const std::string cannot = "cannot connect to the PostgreSQL server: ";
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);  // may quote the password: never shown
  if (!opts) {
    fail(ErrorCode::kStoreError,
         cannot +
             "the connection string cannot be parsed (libpq's reason is withheld because it can quote "
             "the password); in a URL write '%' as %25 and '@', '/', '?', ':' in the user name or "
             "password %-escaped, in key=value form quote a value with blanks: password='my secret'");
  }
  const std::string_view userinfo = is_url(conninfo) ? url_userinfo(conninfo) : std::string_view();
  if (userinfo.find_first_of("@/") != std::string_view::npos) {
    PQconninfoFree(opts);
    fail(ErrorCode::kStoreError,
         cannot +
             "the URL's user name or password holds a character libpq reads as the end of it; "
             "write '@' as %40, '/' as %2F and '%' as %25 there");
  }
  return opts;
}

// Replaces every occurrence of `secret` in `*message` by "[redacted]".
void redact_all(std::string* message, std::string_view secret) {
  if (secret.empty()) return;
  static const std::string kMark = "[redacted]";
  for (std::size_t at = message->find(secret); at != std::string::npos;
       at = message->find(secret, at + kMark.size())) {
    message->replace(at, secret.size(), kMark);
  }
}

}  // namespace

std::string pg_redact(std::string message, const PQconninfoOption* options, const std::string& conninfo) {
  redact_all(&message, conninfo);
  if (is_url(conninfo)) {
    const std::string_view userinfo = url_userinfo(conninfo);
    const std::size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) redact_all(&message, userinfo.substr(colon + 1));
  }
  for (const char* keyword : {"password", "sslpassword"}) {
    if (const char* value = option_value(options, keyword)) redact_all(&message, value);
  }
  return message;
}

std::string PgResult::bytes(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  const int n = PQgetlength(r_, row, col);
  std::string out;
  if (n < 2 || v[0] != '\\' || v[1] != 'x') return out;
  for (int i = 2; i + 1 < n; i += 2) {
    const int hi = hex_value(v[i]);
    const int lo = hex_value(v[i + 1]);
    if (hi < 0 || lo < 0) return std::string();
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::int64_t PgResult::i64_binary(int row, int col) const {
  if (PQgetlength(r_, row, col) != 8) fail(ErrorCode::kStoreError, "a bigint column is not 8 bytes long");
  return pg_binary::int8_read(PQgetvalue(r_, row, col));
}

std::int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::stoll(n) : 0;
}

PgParams& PgParams::add(const std::optional<std::int64_t>& v) {
  if (!v) {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  return add(*v);
}

PgParams& PgParams::add_bytes(const unsigned char* p, std::size_t n) { return add_text(hex_of(p, n)); }

PgParams& PgParams::add_text(std::string v) {
  values_.emplace_back(std::move(v));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::add_binary(std::string v) {
  values_.emplace_back(std::move(v));
  formats_.push_back(1);
  binary_ = true;
  return *this;
}

const char* const* PgParams::values() {
  ptrs_.clear();
  for (const auto& v : values_) ptrs_.push_back(v ? v->data() : nullptr);
  return ptrs_.data();
}

const int* PgParams::lengths() {
  lengths_.clear();
  for (const auto& v : values_) lengths_.push_back(v ? static_cast<int>(v->size()) : 0);
  return lengths_.data();
}

const int* PgParams::formats() { return binary_ ? formats_.data() : nullptr; }

PgWireCount pg_wire_count_this_thread() { return wire_count; }

std::string pg_array_text(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    array_element(&out, items[i]);
  }
  return out + "}";
}

std::string pg_array_i64(const std::vector<std::int64_t>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(items[i]);
  }
  return out + "}";
}

std::string pg_array_opt_i64(const std::vector<std::optional<std::int64_t>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i] ? std::to_string(*items[i]) : std::string("NULL");
  }
  return out + "}";
}

std::string pg_array_bytes(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    array_element(&out, hex_of(reinterpret_cast<const unsigned char*>(items[i].data()), items[i].size()));
  }
  return out + "}";
}

namespace {
struct SpinSeedSlot {
  std::atomic<std::uint64_t> key{0};  // a hash of the server; 0: free
  PgSpinSeed seed;
};
SpinSeedSlot spin_seed_slots[PgSpinSeed::kServers + 1];  // the last one: every other server
}  // namespace

PgSpinSeed& PgSpinSeed::of(const std::string& server) {
  std::uint64_t key = std::hash<std::string>{}(server) | 1;
  for (int i = 0; i < kServers; ++i) {
    SpinSeedSlot& slot = spin_seed_slots[i];
    std::uint64_t seen = slot.key.load(std::memory_order_acquire);
    if (seen == 0 && slot.key.compare_exchange_strong(seen, key, std::memory_order_acq_rel)) return slot.seed;
    if (seen == key) return slot.seed;
  }
  return spin_seed_slots[kServers].seed;
}

void PgSpinSeed::reset_all() {
  for (auto& slot : spin_seed_slots) slot.seed.reset();
}

std::string pg_describe(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);  // may quote the string: never shown
  if (!opts) return "the PostgreSQL server (unparsable connection string)";
  std::string host, port, db, user;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    if (!std::strcmp(o->keyword, "host")) host = o->val;
    if (!std::strcmp(o->keyword, "port")) port = o->val;
    if (!std::strcmp(o->keyword, "dbname")) db = o->val;
    if (!std::strcmp(o->keyword, "user")) user = o->val;
  }
  PQconninfoFree(opts);
  std::string out = "PostgreSQL database '" + (db.empty() ? user : db) + "' on " +
                    (host.empty() ? std::string("the default host") : host);
  if (!port.empty()) out += " port " + port;
  return out;
}

PgConnection::PgConnection(const std::string& conninfo, bool prepare) : pid_(::getpid()), prepare_(prepare) {
  PQconninfoOption* options = conninfo_parse_or_refuse(conninfo);
  where_ = pg_describe(conninfo);
  // Our defaults first, then the conninfo expanded over them: its own settings win.
  std::vector<const char*> keys, values;
  for (const auto& kv : kPgConnectDefaults) {
    keys.push_back(kv[0]);
    values.push_back(kv[1]);
  }
  keys.push_back("dbname");
  values.push_back(conninfo.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  c_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (c_ == nullptr) {
    PQconninfoFree(options);
    fail(ErrorCode::kStoreError, "cannot connect to " + where_ + ": out of memory");
  }
  if (PQstatus(c_) != CONNECTION_OK) {
    // libpq's messages name host, user and the failure; an option value it quotes is
    // redacted if it is (or holds) a password.
    std::string why = pg_redact(PQerrorMessage(c_), options, conninfo);
    PQconninfoFree(options);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    PQfinish(c_);
    c_ = nullptr;
    fail(ErrorCode::kStoreError, "cannot connect to " + where_ + ": " + why);
  }
  PQconninfoFree(options);
  PQsetNoticeProcessor(
      c_, [](void*, const char*) {}, nullptr);
  PQsetnonblocking(c_, 1);  // sends never block: await() flushes within the bound
  const char* host = PQhost(c_);
  const char* port = PQport(c_);
  spin_ = PgSpinPolicy(std::thread::hardware_concurrency() >= 2,
                       &PgSpinSeed::of(std::string(host ? host : "") + ":" + (port ? port : "")));
  // The server's side of failing fast: a session abandoned inside a transaction (its client
  // cut off after taking the generation row lock, say) ends within 5 s instead of blocking
  // every writer; from version 14, a query whose client is gone is aborted within 1 s.
  // Changes and renewals commit durably even where the server's default is off.
  std::string setup =
      "SELECT set_config('idle_in_transaction_session_timeout', '5000', false), "
      "CASE WHEN current_setting('synchronous_commit') = 'off' "
      "THEN set_config('synchronous_commit', 'on', false) END";
  if (PQserverVersion(c_) >= 140000)
    setup += ", set_config('client_connection_check_interval', '1000', false)";
  try {
    exec(setup.c_str(), "cannot configure a session on");
  } catch (...) {
    PQfinish(c_);
    c_ = nullptr;
    throw;
  }
}

PgConnection::~PgConnection() {
  if (c_ == nullptr) return;
  if (inherited()) {
    // The parent still talks on this socket: close our copy of the descriptor only.
    ::close(PQsocket(c_));
    return;  // the PGconn itself is leaked on purpose (PQfinish would send Terminate)
  }
  PQfinish(c_);
}

bool PgConnection::inherited() const { return ::getpid() != pid_; }

void PgConnection::raise(const PGresult* r, const char* doing) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string why = primary ? primary : PQerrorMessage(c_);
  if (PQconninfoOption* options = PQconninfo(c_)) {
    why = pg_redact(std::move(why), options, std::string());
    PQconninfoFree(options);
  }
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (PQstatus(c_) != CONNECTION_OK || (state && std::strncmp(state, "08", 2) == 0) ||
      (state && std::strncmp(state, "57P", 3) == 0)) {
    fail_link(doing, why);
  }
  fail(ErrorCode::kStoreError, std::string(doing) + " " + where_ + ": " + why + note_);
}

void PgConnection::fail_link(const char* doing, const std::string& why) {
  broken_ = true;
  fail(ErrorCode::kStoreError,
       std::string(doing) + " " + where_ + ": the server is unreachable (" + why + ")" + note_);
}

PGresult* PgConnection::await(const char* doing, bool critical) {
  ++wire_count.round_trips;
  const std::int64_t started = boot_ns();
  const std::int64_t deadline = timeout_ms_ > 0 ? started + std::int64_t{timeout_ms_} * 1000000 : 0;
  const bool spin = critical && spin_.spin_next();
  std::int64_t spin_until = spin ? started + spin_.budget_ns() : 0;
  PGresult* kept = nullptr;  // the first error, else the last result
  auto drop = [&] {
    if (kept) PQclear(kept);
    kept = nullptr;
  };
  bool looked = false;   // a critical read looks once for its answer before it waits
  bool at_once = false;  // the answer was complete at that look (pg_spin.h)
  for (;;) {
    const int flushed = PQflush(c_);  // 0: all sent, 1: more to send, -1: failed
    if (flushed < 0) {
      drop();
      fail_link(doing, "the connection failed while sending");
    }
    if (critical && !looked) {  // only before any wait: after one, an answer there was waited for
      looked = true;
      if (flushed == 0) {
        if (!PQconsumeInput(c_)) {
          broken_ = true;
          raise(nullptr, doing);  // libpq's message, redacted
        }
        at_once = !PQisBusy(c_);
      }
    }
    while (flushed == 0 && !PQisBusy(c_)) {
      PGresult* r = PQgetResult(c_);
      if (r == nullptr) {
        if (critical) spin_.answered(spin, boot_ns() - started, !at_once);
        return kept;
      }
      if (PQresultStatus(r) == PGRES_COPY_IN) {  // the server waits for copy_in's data
        drop();
        return r;
      }
      if (kept && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
        PQclear(r);
      } else {
        drop();
        kept = r;
      }
    }
    if (spin_until && flushed == 0) {
      // Read without sleeping until the answer is complete or the budget is spent; then, if
      // need be, sleep in poll() below.
      ++wire_count.spins;
      std::int64_t now = boot_ns();
      const std::int64_t spin_from = now;
      while (PQisBusy(c_) && now < spin_until) {
        if (!PQconsumeInput(c_)) {
          drop();
          broken_ = true;
          raise(nullptr, doing);  // libpq's message, redacted
        }
        now = boot_ns();
      }
      wire_count.spin_ns += static_cast<std::uint64_t>(now - spin_from);
      spin_until = 0;
      continue;
    }
    int wait_ms = -1;
    if (deadline) {
      const std::int64_t left = deadline - boot_ns();
      if (left <= 0) {
        drop();
        fail_link(doing,
                  "no answer within " + std::to_string(timeout_ms_) + " ms: the server or the link is down");
      }
      wait_ms = static_cast<int>((left + 999999) / 1000000);
    }
    pollfd pfd{PQsocket(c_), static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
    const int ready = ::poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) {
      drop();
      fail_link(doing, std::strerror(errno));
    }
    if (ready > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c_)) {
      drop();
      broken_ = true;
      raise(nullptr, doing);  // libpq's message, redacted
    }
  }
}

void PgConnection::exec(const char* sql, const char* doing) {
  if (broken_) fail_link(doing, "the connection was abandoned after an earlier failure");
  ++wire_count.statements;
  if (!PQsendQuery(c_, sql)) raise(nullptr, doing);
  PgResult r(await(doing));
  const ExecStatusType status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) raise(r.get(), doing);
}

std::optional<PgResult> PgConnection::run(const char* sql, PgParams& params, const char* doing,
                                          bool unique_ok) {
  return send_prepared(sql, params, doing, unique_ok, 0);
}

std::optional<PgResult> PgConnection::send_prepared(const char* sql, PgParams& params, const char* doing,
                                                    bool unique_ok, int result_format, bool critical) {
  if (broken_) fail_link(doing, "the connection was abandoned after an earlier failure");
  if (!prepare_) {
    ++wire_count.statements;
    if (!PQsendQueryParams(c_, sql, params.size(), nullptr, params.values(), params.lengths(),
                           params.formats(), result_format))
      raise(nullptr, doing);
    return result_of(await(doing, critical), doing, unique_ok);
  }
  std::string name;
  bool known = false;
  for (std::size_t i = 0; i < prepared_.size(); ++i) {
    if (prepared_[i] == sql) {
      known = true;
      name = "tk" + std::to_string(i);
      break;  // each text is prepared once: no other entry matches
    }
  }
  if (!known) {
    name = "tk" + std::to_string(prepared_.size());
    ++wire_count.statements;
    if (!PQsendPrepare(c_, name.c_str(), sql, 0, nullptr)) raise(nullptr, doing);
    PgResult p(await(doing));
    if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) raise(p.get(), doing);
    prepared_.push_back(sql);
  }
  ++wire_count.statements;
  if (!PQsendQueryPrepared(c_, name.c_str(), params.size(), params.values(), params.lengths(),
                           params.formats(), result_format))
    raise(nullptr, doing);
  return result_of(await(doing, critical), doing, unique_ok);
}

std::optional<PgResult> PgConnection::result_of(PGresult* r, const char* doing, bool unique_ok) {
  PgResult owned(r);
  const ExecStatusType status = PQresultStatus(owned.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
    return std::optional<PgResult>(std::move(owned));
  const char* state = PQresultErrorField(owned.get(), PG_DIAG_SQLSTATE);
  if (unique_ok && state && std::strcmp(state, "23505") == 0) return std::nullopt;
  raise(owned.get(), doing);
}

void PgConnection::flush_within(std::int64_t deadline, const char* doing) {
  for (;;) {
    const int flushed = PQflush(c_);
    if (flushed < 0) fail_link(doing, "the connection failed while sending");
    if (flushed == 0) return;
    int wait_ms = -1;
    if (deadline) {
      const std::int64_t left = deadline - boot_ns();
      if (left <= 0)
        fail_link(doing,
                  "no answer within " + std::to_string(timeout_ms_) + " ms: the server or the link is down");
      wait_ms = static_cast<int>((left + 999999) / 1000000);
    }
    pollfd pfd{PQsocket(c_), static_cast<short>(POLLIN | POLLOUT), 0};
    const int ready = ::poll(&pfd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) fail_link(doing, std::strerror(errno));
    // Input (an early error, say) is buffered so that poll() does not spin on it.
    if (ready > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c_)) {
      broken_ = true;
      raise(nullptr, doing);
    }
  }
}

bool PgConnection::copy_in(const char* sql, const std::string& data, const char* doing, bool unique_ok) {
  copy_begin(sql, doing);
  copy_put(data, doing);
  return copy_end(doing, unique_ok);
}

void PgConnection::copy_begin(const char* sql, const char* doing) {
  if (broken_) fail_link(doing, "the connection was abandoned after an earlier failure");
  copy_deadline_ = timeout_ms_ > 0 ? boot_ns() + std::int64_t{timeout_ms_} * 1000000 : 0;
  ++wire_count.statements;
  if (!PQsendQuery(c_, sql)) raise(nullptr, doing);
  PgResult r(await(doing));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) raise(r.get(), doing);
  copying_ = true;
}

void PgConnection::copy_put(std::string_view data, const char* doing) {
  if (broken_) fail_link(doing, "the connection was abandoned after an earlier failure");
  // libpq queues the data (its buffer grows) and sends what the socket takes; the rest goes
  // out with the next part or as copy_end flushes. If the server refused a row it discards
  // the rest until the end.
  constexpr std::size_t kChunk = std::size_t{1} << 16;
  for (std::size_t at = 0; at < data.size();) {
    const int n = static_cast<int>(std::min(kChunk, data.size() - at));
    int put = PQputCopyData(c_, data.data() + at, n);
    if (put == 0) {
      flush_within(copy_deadline_, doing);
      put = PQputCopyData(c_, data.data() + at, n);
    }
    if (put != 1) fail_link(doing, "cannot send the rows");
    at += static_cast<std::size_t>(n);
  }
}

bool PgConnection::copy_end(const char* doing, bool unique_ok) {
  if (broken_) fail_link(doing, "the connection was abandoned after an earlier failure");
  int ended = PQputCopyEnd(c_, nullptr);
  if (ended == 0) {
    flush_within(copy_deadline_, doing);
    ended = PQputCopyEnd(c_, nullptr);
  }
  if (ended != 1) fail_link(doing, "cannot end the rows");
  PgResult done(await(doing));
  copying_ = false;
  if (PQresultStatus(done.get()) == PGRES_COMMAND_OK) return true;
  const char* state = PQresultErrorField(done.get(), PG_DIAG_SQLSTATE);
  if (unique_ok && state && std::strcmp(state, "23505") == 0) return false;
  raise(done.get(), doing);
}

void PgTransaction::commit() {
  done_ = true;
  c_.error_note("");
  try {
    c_.exec("COMMIT", "cannot commit to");
  } catch (const Error& e) {
    fail(ErrorCode::kStoreError,
         std::string(e.what()) + (c_.broken()
                                      ? "; the change may have been committed or not (the answer was lost)"
                                      : "; nothing was changed"));
  }
}

PgTransaction::~PgTransaction() {
  c_.error_note("");
  if (done_ || c_.broken()) return;
  try {
    c_.exec("ROLLBACK", "cannot roll back on");
  } catch (const Error&) {
    // The connection is marked broken: the pool drops it, the server rolls back.
  }
}

}  // namespace tokenkeep
