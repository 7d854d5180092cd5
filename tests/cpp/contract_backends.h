// The repositories repository_contract_test.cc holds to one contract, each able to make an
// empty store and open several handles on it (as several processes or nodes would).
#pragma once

#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_repository.h"
#include "pg_connection.h"
#include "test_util.h"
#include "tokenkeep/pg_store.h"
#include "tokenkeep/sqlite_store.h"
#include "tokenkeep/store_location.h"

namespace tokenkeep::testing {

struct Backend {
  class Store {
   public:
    virtual ~Store() = default;
    virtual std::unique_ptr<TokenRepository> open() = 0;
  };
  std::string name;
  std::unique_ptr<Store> (*make_store)();
};

// Every handle forwards to one shared FakeRepository.
class FakeHandle final : public TokenRepository {
 public:
  explicit FakeHandle(std::shared_ptr<FakeRepository> f) : f_(std::move(f)) {}
  std::optional<std::string> setting_get(const std::string& k) override { return f_->setting_get(k); }
  std::string setting_put(const std::string& k, const std::string& v,
                          const std::optional<std::string>& e) override {
    return f_->setting_put(k, v, e);
  }
  void tokens_insert(const std::vector<TokenRecord>& r, const std::string& a, std::int64_t at) override {
    f_->tokens_insert(r, a, at);
  }
  std::optional<TokenRecord> token_find(std::int64_t id) override { return f_->token_find(id); }
  std::optional<TokenRecord> token_find_owned(const std::string& o, std::int64_t id) override {
    return f_->token_find_owned(o, id);
  }
  TokenPage tokens_query(const TokenQuery& q, std::int64_t now) override { return f_->tokens_query(q, now); }
  std::vector<TokenRecord> tokens_expiring(std::int64_t a, std::int64_t b,
                                           const std::optional<std::string>& o) override {
    return f_->tokens_expiring(a, b, o);
  }
  bool token_update_scopes(const std::string& o, std::int64_t id, const std::vector<std::string>& s,
                           const std::string& a, std::int64_t at) override {
    return f_->token_update_scopes(o, id, s, a, at);
  }
  bool token_update_description(const std::string& o, std::int64_t id, const std::string& d,
                                const std::string& a, std::int64_t at) override {
    return f_->token_update_description(o, id, d, a, at);
  }
  bool token_update_networks(const std::string& o, std::int64_t id, const std::vector<std::string>& n,
                             const std::string& a, std::int64_t at) override {
    return f_->token_update_networks(o, id, n, a, at);
  }
  void clients_touch(const std::vector<ClientUse>& u) override { f_->clients_touch(u); }
  std::vector<ClientUse> clients_recent(std::int64_t id, std::int64_t limit) override {
    return f_->clients_recent(id, limit);
  }
  bool tokens_revoke(const std::string& o, const std::vector<std::int64_t>& ids, const std::string& a,
                     std::int64_t at) override {
    return f_->tokens_revoke(o, ids, a, at);
  }
  std::size_t tokens_announce(const std::string& o) override { return f_->tokens_announce(o); }
  bool token_rotate(const std::string& o, std::int64_t id, const TokenRecord& r, const std::string& a,
                    std::int64_t at) override {
    return f_->token_rotate(o, id, r, a, at);
  }
  std::int64_t tokens_purgeable(std::int64_t c) override { return f_->tokens_purgeable(c); }
  std::int64_t tokens_purge(std::int64_t c, const std::string& a, std::int64_t at) override {
    return f_->tokens_purge(c, a, at);
  }
  void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& u) override {
    f_->tokens_touch(u);
  }
  Coherence coherence() const noexcept override { return f_->coherence(); }
  bool changes_since(std::uint64_t a, std::uint64_t b, std::vector<std::int64_t>* ids) override {
    return f_->changes_since(a, b, ids);
  }
  void coherence_repair() override { f_->coherence_repair(); }
  std::vector<AuditEvent> audit_list(const std::optional<std::string>& o, std::int64_t l) override {
    return f_->audit_list(o, l);
  }
  std::vector<std::int64_t> tokens_revoke_leaked(const std::vector<LeakedToken>& l, const std::string& a,
                                                 std::int64_t at) override {
    return f_->tokens_revoke_leaked(l, a, at);
  }
  void scopes_touch(const std::vector<ScopeUse>& u) override { f_->scopes_touch(u); }
  std::vector<ScopeUse> scopes_used(const std::vector<std::int64_t>& ids, std::int64_t s) override {
    return f_->scopes_used(ids, s);
  }
  std::vector<AuditEvent> audit_actions(const std::string& o, const std::string& a, std::int64_t s,
                                        std::int64_t l) override {
    return f_->audit_actions(o, a, s, l);
  }

 private:
  std::shared_ptr<FakeRepository> f_;
};

class FakeStore final : public Backend::Store {
 public:
  std::unique_ptr<TokenRepository> open() override { return std::make_unique<FakeHandle>(fake_); }

 private:
  std::shared_ptr<FakeRepository> fake_ = std::make_shared<FakeRepository>();
};

class SqliteFileStore final : public Backend::Store {
 public:
  std::unique_ptr<TokenRepository> open() override {
    return sqlite_store_open(store_location_resolve(dir_.file("contract.db")), SqliteOptions{});
  }

 private:
  TempDir dir_;
};

// A fresh schema on the TOKENKEEP_TEST_PG server, dropped afterwards; every handle connects
// with search_path set to it (whatever else the URL says is kept).
class PgSchemaStore final : public Backend::Store {
 public:
  PgSchemaStore() {
    const char* url = std::getenv("TOKENKEEP_TEST_PG");
    if (url == nullptr || *url == '\0') {
      throw std::runtime_error(
          "TOKENKEEP_TEST_PG is not set: the PostgreSQL contract tests need a server (make test starts one; "
          "or export TOKENKEEP_TEST_PG=postgresql://user@host:port/db)");
    }
    admin_ = std::make_unique<PgConnection>(url);
    unsigned char r[6];
    randombytes_buf(r, sizeof r);
    schema_ = "tk_contract_";
    for (unsigned char c : r) schema_ += "0123456789abcdef"[c & 15];
    admin_->exec(("CREATE SCHEMA " + schema_).c_str(), "cannot create a test schema on");
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url, &err);
    if (err) PQfreemem(err);
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
      if (o->val == nullptr || std::string(o->keyword) == "options") continue;
      conninfo_ += std::string(o->keyword) + "='" + quote(o->val) + "' ";
    }
    if (opts) PQconninfoFree(opts);
    // The schema's name as application_name too, so a test can cut exactly its own sessions
    // (ctest runs other PostgreSQL tests at the same time on the same database).
    conninfo_ += "application_name='" + schema_ + "' options='-csearch_path=" + schema_ + "'";
  }
  ~PgSchemaStore() override {
    try {
      admin_->exec(("DROP SCHEMA " + schema_ + " CASCADE").c_str(), "cannot drop a test schema on");
    } catch (const Error&) {
    }
  }
  std::unique_ptr<TokenRepository> open() override { return pg_store_open(conninfo_, PgOptions{}); }
  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return schema_; }  // also its sessions' application_name

 private:
  static std::string quote(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }
  std::unique_ptr<PgConnection> admin_;
  std::string schema_;
  std::string conninfo_;
};

inline std::vector<const Backend*> contract_backends() {
  static const Backend sqlite{"sqlite", [] { return std::unique_ptr<Backend::Store>(new SqliteFileStore); }};
  static const Backend fake{"fake", [] { return std::unique_ptr<Backend::Store>(new FakeStore); }};
  static const Backend postgres{"postgres",
                                [] { return std::unique_ptr<Backend::Store>(new PgSchemaStore); }};
  return {&sqlite, &fake, &postgres};
}

}  // namespace tokenkeep::testing
