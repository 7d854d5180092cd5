// TokenRepository on PostgreSQL (pg_store_impl.h): opening (migrations, the coherence
// channel), settings read, coherence and fork hooks, and the helpers every change uses.
#include "tokenkeep/pg_store.h"

#include <memory>
#include <string>

#include "pg_binary.h"
#include "pg_store_impl.h"
#include "repository_rules.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace pg_detail {

PgStore::PgStore(const std::string& conninfo, const PgOptions& options)
    : pool_(conninfo, options.pool_size, options.pool_idle_seconds, options.prepared_statements),
      read_only_(options.read_only) {
  std::string schema, identity;
  {
    auto c = pool_.acquire();
    pg_schema_migrate(*c, read_only_);
    where_ = c->where();
    PgParams none;
    PgResult r = c->query(
        "SELECT current_schema(), current_database(), has_function_privilege('pg_control_system()', "
        "'EXECUTE')",
        none, "cannot read the schema of");
    schema = r.text(0, 0);
    if (options.relay)
      identity = server_identity(*c, r.text(0, 2) == "t") + "\n" + r.text(0, 1) + "\n" + schema;
  }
  channel_ = pg_channel_of(schema);
  auto host =
      options.relay ? std::make_unique<PgHostState>(pg_runtime_dir(options.runtime_dir), identity) : nullptr;
  // The session that LISTENs goes straight to the server when the pool goes through a
  // transaction-mode pooler (listen_conninfo; README, "Behind PgBouncer").
  coherence_ =
      std::make_unique<PgCoherence>(options.listen_conninfo.empty() ? conninfo : options.listen_conninfo,
                                    channel_, options, std::move(host));
}

std::optional<std::string> PgStore::setting_get(const std::string& key) {
  auto c = pool_.acquire();
  PgParams p;
  p.add(key);
  PgResult r =
      c->query("SELECT value FROM tokenkeep_settings WHERE key = $1", p, "cannot read settings from");
  if (r.rows() == 0) return std::nullopt;
  return r.text(0, 0);
}

bool PgStore::changes_since(std::uint64_t from, std::uint64_t to, std::vector<std::int64_t>* ids) {
  return coherence_->changes_since(from, to, ids);
}

void PgStore::coherence_repair() {
  coherence_->restart_if_forked();
  coherence_->repair();
}

void PgStore::idle() {
  background_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  pool_.idle_close();
}

void PgStore::fork_prepare() noexcept {
  flights_.fork_prepare();
  pool_.fork_prepare();
  missing_.fork_prepare();
}

void PgStore::fork_parent() noexcept {
  missing_.fork_parent();
  pool_.fork_parent();
  flights_.fork_parent();
}

void PgStore::fork_child() noexcept {
  coherence_->fork_child();
  missing_.fork_child();
  pool_.fork_child();
  flights_.fork_child();
}

std::string PgStore::server_identity(PgConnection& c, bool readable) {
  if (!readable) return "address " + pg_describe(pool_.conninfo());
  PgParams none;
  return "system " + c.query("SELECT system_identifier::text FROM pg_control_system()", none,
                             "cannot read the system identifier of")
                         .text(0, 0);
}

PgPool::Lease PgStore::acquire_for_change() {
  try {
    return pool_.acquire();
  } catch (const Error& e) {
    fail(ErrorCode::kStoreError, std::string(e.what()) + kPgNotChanged);
  }
}

PgPool::Lease PgStore::acquire_for_uses() {
  if (background_.load(std::memory_order_relaxed) != std::this_thread::get_id()) return pool_.acquire();
  if (auto c = pool_.acquire_spare()) return std::move(*c);
  fail(ErrorCode::kStoreError, "cannot record token use in " + where_ + ": every connection is busy");
}

void PgStore::writable(const char* doing) {
  if (read_only_)
    fail(ErrorCode::kStoreError,
         std::string(doing) + " " + where_ + ": database is read-only (opened with read_only=True)");
}

std::uint64_t PgStore::publish(PgConnection& c, const std::vector<std::int64_t>& ids) {
  PgParams p;
  p.add_text(pg_array_i64(ids)).add(channel_);
  PgResult r = c.query(
      "WITH g AS (UPDATE tokenkeep_generation SET generation = generation + 1 RETURNING generation), "
      "ch AS (INSERT INTO tokenkeep_changes(generation, ids) SELECT generation, $1::bigint[] FROM g), "
      "old AS (DELETE FROM tokenkeep_changes WHERE generation <= (SELECT generation FROM g) - 4096) "
      "SELECT generation, pg_notify($2, generation::text) FROM g",
      p, "cannot publish a change on");
  return static_cast<std::uint64_t>(r.i64(0, 0));
}

}  // namespace pg_detail

using pg_detail::PgStore;

void pg_options_check(const PgOptions& options) {
  if (!(options.lease_seconds >= 0.05 && options.lease_seconds <= 600)) {  // also refuses NaN
    fail(ErrorCode::kInvalidArgument, "lease must be between 0.05 and 600 seconds", "lease");
  }
  if (!(options.pool_size >= 1 && options.pool_size <= 1000)) {
    fail(ErrorCode::kInvalidArgument, "pool_size must be from 1 to 1000 connections", "pool_size");
  }
  if (!(options.pool_idle_seconds >= 0 && options.pool_idle_seconds <= 86400)) {  // also refuses NaN
    fail(ErrorCode::kInvalidArgument, "pool_idle must be from 0 to 86400 seconds", "pool_idle");
  }
}

std::unique_ptr<TokenRepository> pg_store_open(const std::string& conninfo, const PgOptions& options) {
  return std::make_unique<PgStore>(conninfo, options);
}

}  // namespace tokenkeep
