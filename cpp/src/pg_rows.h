// PostgreSQL's shared parts for pg_store*.cc and pg_listing.cc (private to them): the token
// columns, the readers of result rows, the audit insert, and the negative cache of unknown ids.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg_connection.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_query.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {
namespace pg_detail {

#define PG_TOKEN_COLUMNS                                                                           \
  "id, owner, name, scopes, digest, pepper_id, created_at, expires_at, last_used_at, revoked_at, " \
  "description, networks"
#define PG_TOKEN_SELECT "SELECT " PG_TOKEN_COLUMNS " FROM tokenkeep_tokens "
#define PG_AUDIT_INSERT \
  "INSERT INTO tokenkeep_audit(at, actor, action, token_id, owner, name, old_scopes, new_scopes, detail) "

inline TokenRecord read_token(const PgResult& r, int row) {
  TokenRecord t;
  t.id = r.i64(row, 0);
  t.owner = r.text(row, 1);
  t.name = r.text(row, 2);
  t.scopes = scopes_split(r.text(row, 3));
  const std::string d = r.bytes(row, 4);
  if (d.size() == t.digest.size()) std::memcpy(t.digest.data(), d.data(), d.size());
  t.pepper_id = r.text(row, 5);
  t.created_at = r.i64(row, 6);
  t.expires_at = r.opt_i64(row, 7);
  t.last_used_at = r.opt_i64(row, 8);
  t.revoked_at = r.opt_i64(row, 9);
  t.description = r.text(row, 10);
  t.networks = scopes_split(r.text(row, 11));
  return t;
}

// The same row in binary format (PgConnection::query_binary): no number parsing, no hex.
inline TokenRecord read_token_binary(const PgResult& r, int row) {
  TokenRecord t;
  t.id = r.i64_binary(row, 0);
  t.owner = r.text(row, 1);
  t.name = r.text(row, 2);
  t.scopes = scopes_split(r.text(row, 3));
  if (PQgetlength(r.get(), row, 4) == static_cast<int>(t.digest.size()))
    std::memcpy(t.digest.data(), PQgetvalue(r.get(), row, 4), t.digest.size());
  t.pepper_id = r.text(row, 5);
  t.created_at = r.i64_binary(row, 6);
  t.expires_at = r.opt_i64_binary(row, 7);
  t.last_used_at = r.opt_i64_binary(row, 8);
  t.revoked_at = r.opt_i64_binary(row, 9);
  t.description = r.text(row, 10);
  t.networks = scopes_split(r.text(row, 11));
  return t;
}

inline std::vector<TokenRecord> read_tokens(const PgResult& r) {
  std::vector<TokenRecord> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
  return out;
}

inline std::vector<AuditEvent> read_audit(const PgResult& r) {
  std::vector<AuditEvent> out;
  for (int i = 0; i < r.rows(); ++i) {
    AuditEvent e;
    e.seq = r.i64(i, 0);
    e.at = r.i64(i, 1);
    e.actor = r.text(i, 2);
    e.action = r.text(i, 3);
    e.token_id = r.opt_i64(i, 4);
    e.owner = r.text(i, 5);
    e.name = r.text(i, 6);
    e.old_scopes = r.text(i, 7);
    e.new_scopes = r.text(i, 8);
    e.detail = r.text(i, 9);
    out.push_back(std::move(e));
  }
  return out;
}

inline std::string digest_bytes(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

inline void audit_add(PgConnection& c, std::int64_t at, const std::string& actor, const char* action,
                      std::optional<std::int64_t> token_id, const std::string& owner, const std::string& name,
                      const std::string& old_scopes, const std::string& new_scopes,
                      const std::string& detail) {
  PgParams p;
  p.add(at)
      .add(actor)
      .add(std::string(action))
      .add(token_id)
      .add(owner)
      .add(name)
      .add(old_scopes)
      .add(new_scopes)
      .add(detail);
  c.query(PG_AUDIT_INSERT "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", p, "cannot write the audit log of");
}

// Ids recently looked up and not found, so that a client retrying an unknown (purged,
// mistyped, sprayed) token costs no round trip each time. Sound without any announcement of
// creates because ids are 63-bit random and unknown until their create returns: an entry for
// X turns wrong only if X is created later, which needs X guessed beforehand (2^-63 a guess),
// and then it fails closed (the new token refused until the entry ages out), never a stale
// accept. A create through this node erases its ids. Bounded: kMax entries, kTtl each.
class NegativeCache {
 public:
  void fork_prepare() noexcept { mu_.lock(); }
  void fork_parent() noexcept { mu_.unlock(); }
  void fork_child() noexcept { new (&mu_) std::mutex(); }
  bool contains(std::int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(id);
    return it != seen_.end() && now_ns() - it->second < kTtlNs;
  }
  void add(std::int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ns();
    while (order_.size() >= kMax || (!order_.empty() && now - order_.front().second >= kTtlNs)) {
      auto it = seen_.find(order_.front().first);
      if (it != seen_.end() && it->second == order_.front().second) seen_.erase(it);
      order_.pop_front();
    }
    seen_[id] = now;
    order_.emplace_back(id, now);
  }
  void erase(const std::vector<TokenRecord>& records) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : records) seen_.erase(r.id);
  }

 private:
  static constexpr std::size_t kMax = 65536;
  static constexpr std::int64_t kTtlNs = 60LL * 1000 * 1000 * 1000;
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::mutex mu_;
  std::unordered_map<std::int64_t, std::int64_t> seen_;  // id -> when it was not found
  std::deque<std::pair<std::int64_t, std::int64_t>> order_;
};

// Inserting tokens with their audit rows (pg_insert.cc), all or nothing; false on a unique
// violation, nothing inserted. From kPgCopyFromRows rows PgStore streams them (COPY);
// fewer go in one statement, one round trip.
inline constexpr std::size_t kPgCopyFromRows = 64;
bool pg_insert_statement(PgConnection& c, const std::vector<TokenRecord>& records, const std::string& actor,
                         std::int64_t at);
bool pg_insert_copy(PgConnection& c, const std::vector<TokenRecord>& records, const std::string& actor,
                    std::int64_t at, const TokenRepository::RecordsComplete& complete);

// tokens_query's SQL (pg_listing.cc).
const char* pg_query_sql(const TokenQuery& q, bool count);

}  // namespace pg_detail
}  // namespace tokenkeep
