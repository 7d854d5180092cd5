#include "tokenkeep/engine.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "test_util.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

constexpr std::int64_t kT0 = 1893456000LL * kMicrosPerSecond;  // 2030-01-01T00:00:00Z
const std::string kPepperA(64, 'a');
const std::string kPepperB(64, 'b');

class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> open(StoreOptions o = {}) {
    if (!o.pepper_hex) o.pepper_hex = kPepperA;
    o.clock = clock;
    return store_open(db, o);
  }
  static NewToken spec(const std::string& name, std::vector<std::string> scopes, Expiry e = {}) {
    return NewToken{name, std::move(scopes), e};
  }
  static ErrorCode code_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "no error thrown";
    return ErrorCode::kStoreError;
  }

  testing::TempDir dir;
  std::string db = dir.file("tokens.db");
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
};

TEST_F(EngineTest, CreateThenVerifyWithScopes) {
  auto e = open();
  auto t = e->create("alice", spec("ci", {"device", "policy:read"}), "");
  const std::string token(t.token.view());
  CachedTokenPtr rec;
  EXPECT_EQ(e->verify(token, e->required_mask({"device:write"}), &rec), VerifyStatus::kOk);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->name(), "ci");
  EXPECT_EQ(rec->owner(), "alice");
  EXPECT_EQ(rec->scopes(), "device policy:read");
  EXPECT_EQ(e->verify(token, e->required_mask({"device:read", "policy:read"}), nullptr), VerifyStatus::kOk);
  EXPECT_EQ(e->verify(token, e->required_mask({"policy:write"}), nullptr), VerifyStatus::kInsufficientScope);
  EXPECT_EQ(e->verify(token, 0, nullptr), VerifyStatus::kOk);
}

TEST_F(EngineTest, WrongSecretAndUnknownIdAreBothInvalid) {
  auto e = open();
  const std::string token(e->create("alice", spec("ci", {"device"}), "").token.view());
  // Same id, different secret, valid checksum: forge by generating a token with the same id.
  TokenText forged;
  SecretPart secret;
  token_generate("tk", token_id_parse(token.substr(3, kIdWidth)).value(), &forged, &secret);
  EXPECT_EQ(e->verify(forged.view(), 0, nullptr), VerifyStatus::kInvalid);
  TokenText unknown;
  token_generate("tk", token_id_generate(), &unknown, &secret);
  EXPECT_EQ(e->verify(unknown.view(), 0, nullptr), VerifyStatus::kInvalid);
  EXPECT_EQ(e->verify("tk_garbage", 0, nullptr), VerifyStatus::kInvalid);
  try {
    e->verify_or_throw(forged.view(), 0);
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInvalidToken);
    EXPECT_STREQ(err.what(), kInvalidTokenMessage);
  }
}

TEST_F(EngineTest, ExpiryBoundaries) {
  auto e = open();
  Expiry in{Expiry::Kind::kIn, 3600 * kMicrosPerSecond};
  const std::string token(e->create("alice", spec("ci", {"device"}, in), "").token.view());
  clock->set_us(kT0 + 3600 * kMicrosPerSecond);  // exactly expires_at: still valid
  EXPECT_EQ(e->verify(token, 0, nullptr), VerifyStatus::kOk);
  clock->set_us(kT0 + 3601 * kMicrosPerSecond);  // the first second after
  EXPECT_EQ(e->verify(token, 0, nullptr), VerifyStatus::kExpired);
  EXPECT_EQ(code_of([&] { e->verify_or_throw(token, 0); }), ErrorCode::kExpiredToken);
}

TEST_F(EngineTest, DefaultAndMaxLifetime) {
  auto e = open();
  auto t = e->create("alice", spec("a", {"device"}), "");
  ASSERT_TRUE(t.record.expires_at.has_value());
  EXPECT_EQ(*t.record.expires_at, kT0 + 30 * kMicrosPerDay);
  EXPECT_EQ(code_of([&] {
              e->create("alice", spec("b", {"device"}, {Expiry::Kind::kIn, 366 * kMicrosPerDay}), "");
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] {
              e->create("alice", spec("b", {"device"}, {Expiry::Kind::kAt, kT0 - 1}), "");
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] {
              e->create("alice", spec("b", {"device"}, {Expiry::Kind::kNever, 0}), "");
            }),
            ErrorCode::kInvalidArgument);
  auto in_cap = e->create("alice", spec("c", {"device"}, {Expiry::Kind::kIn, 365 * kMicrosPerDay}), "");
  EXPECT_EQ(*in_cap.record.expires_at, kT0 + 365 * kMicrosPerDay);
  EXPECT_EQ(e->list("alice").size(), 2u);  // the failed creates left nothing behind
}

TEST_F(EngineTest, NeverExpiringWhenPolicyAllows) {
  StoreOptions o;
  o.engine.allow_never_expire = true;
  o.engine.max_lifetime_us = 0;
  auto e = open(o);
  auto t = e->create("alice", spec("forever", {"device"}, {Expiry::Kind::kNever, 0}), "");
  EXPECT_FALSE(t.record.expires_at.has_value());
  clock->advance_us(3650 * kMicrosPerDay);
  EXPECT_EQ(e->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
}

TEST_F(EngineTest, NamesAreUniquePerOwnerAmongLiveTokens) {
  auto e = open();
  auto t = e->create("alice", spec("  deploy  ", {"device"}), "");
  EXPECT_EQ(t.record.name, "deploy");
  EXPECT_EQ(code_of([&] { e->create("alice", spec("deploy", {"policy"}), ""); }), ErrorCode::kNameTaken);
  EXPECT_NO_THROW(e->create("bob", spec("deploy", {"policy"}), ""));
  e->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_NO_THROW(e->create("alice", spec("deploy", {"policy"}), ""));
  EXPECT_EQ(code_of([&] {
              e->create_many("carol", {spec("x", {"device"}), spec("x ", {"device"})}, "");
            }),
            ErrorCode::kNameTaken);
  EXPECT_TRUE(e->list("carol").empty());
}

TEST_F(EngineTest, NameAndOwnerValidation) {
  auto e = open();
  for (const std::string& bad :
       std::vector<std::string>{"", "   ", std::string(101, 'n'), std::string("a\nb"), std::string("tab\x01"),
                                std::string("c1\xc2\x85x")}) {
    EXPECT_EQ(code_of([&] { e->create("alice", spec(bad, {"device"}), ""); }), ErrorCode::kInvalidArgument)
        << bad;
  }
  EXPECT_NO_THROW(e->create("alice", spec(std::string(100, 'n'), {"device"}), ""));
  EXPECT_NO_THROW(e->create("alice", spec("\xc3\xa9t\xc3\xa9", {"device"}), ""));  // "été"
  // Stripped like Python's str.strip(): NBSP, ideographic space, newline at the ends.
  EXPECT_EQ(e->create("alice", spec("\xc2\xa0\xe3\x80\x80nbsp\n", {"device"}), "").record.name, "nbsp");
  EXPECT_EQ(code_of([&] { e->create("alice", spec(" nbsp\xc2\xa0", {"device"}), ""); }),
            ErrorCode::kNameTaken);
  EXPECT_EQ(code_of([&] { e->create("alice", spec("\xc2\xa0\xe2\x80\x83", {"device"}), ""); }),
            ErrorCode::kInvalidArgument);  // only spaces
  EXPECT_EQ(code_of([&] { e->create("", spec("x", {"device"}), ""); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { e->create("alice", spec("y", {"admin"}), ""); }), ErrorCode::kUnknownScope);
  EXPECT_EQ(code_of([&] { e->create("alice", spec("y", {}), ""); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e->list("alice").size(), 3u);
}

TEST_F(EngineTest, OwnersSeeOnlyTheirOwnTokens) {
  auto e = open();
  auto t = e->create("alice", spec("ci", {"device"}), "");
  const std::string id = token_id_format(t.record.id);
  EXPECT_EQ(code_of([&] { e->get("bob", id); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { e->update_scopes("bob", id, {"policy"}, ""); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { e->revoke("bob", id, ""); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { e->rotate("bob", id, ""); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { e->get("alice", "00000000001"); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { e->get("alice", "not-an-id"); }), ErrorCode::kNotFound);
  EXPECT_EQ(e->get("alice", id).scopes, std::vector<std::string>{"device"});
  EXPECT_TRUE(e->list("bob").empty());
}

TEST_F(EngineTest, UpdateRevokeRotate) {
  auto e = open();
  auto t = e->create("alice", spec("ci", {"device"}), "");
  const std::string token(t.token.view());
  const std::string id = token_id_format(t.record.id);
  auto updated = e->update_scopes("alice", id, {"policy:read"}, "");
  EXPECT_EQ(updated.scopes, std::vector<std::string>{"policy:read"});
  EXPECT_EQ(e->verify(token, e->required_mask({"device:read"}), nullptr), VerifyStatus::kInsufficientScope);

  clock->advance_us(10 * kMicrosPerSecond);
  auto r = e->rotate("alice", id, "");
  EXPECT_EQ(r.record.name, "ci");
  EXPECT_EQ(r.record.scopes, std::vector<std::string>{"policy:read"});
  EXPECT_EQ(r.record.expires_at, t.record.expires_at);
  EXPECT_NE(r.record.id, t.record.id);
  EXPECT_EQ(e->verify(token, 0, nullptr), VerifyStatus::kRevoked);
  EXPECT_EQ(e->verify(r.token.view(), e->required_mask({"policy:read"}), nullptr), VerifyStatus::kOk);

  e->revoke("alice", token_id_format(r.record.id), "");
  EXPECT_EQ(e->verify(r.token.view(), 0, nullptr), VerifyStatus::kRevoked);
  EXPECT_EQ(code_of([&] { e->revoke("alice", token_id_format(r.record.id), ""); }), ErrorCode::kNotFound);
  EXPECT_TRUE(e->list("alice").empty());
}

TEST_F(EngineTest, RevokeManyIsAllOrNothing) {
  auto e = open();
  auto a = e->create("alice", spec("a", {"device"}), "");
  auto b = e->create("alice", spec("b", {"device"}), "");
  auto c = e->create("bob", spec("c", {"device"}), "");
  const auto id = [](const IssuedToken& t) { return token_id_format(t.record.id); };
  EXPECT_EQ(code_of([&] { e->revoke_many("alice", {id(a), id(c)}, ""); }), ErrorCode::kNotFound);
  EXPECT_EQ(e->list("alice").size(), 2u);
  EXPECT_EQ(code_of([&] { e->revoke_many("alice", {id(a), id(a)}, ""); }), ErrorCode::kInvalidArgument);
  e->revoke_many("alice", {id(a), id(b)}, "");
  EXPECT_TRUE(e->list("alice").empty());
}

TEST_F(EngineTest, ListIsNewestFirstAndIncludesExpired) {
  auto e = open();
  e->create("alice", spec("old", {"device"}, {Expiry::Kind::kIn, kMicrosPerDay}), "");
  clock->advance_us(kMicrosPerSecond);
  e->create("alice", spec("new", {"device"}), "");
  clock->advance_us(2 * kMicrosPerDay);
  auto l = e->list("alice");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].name, "new");
  EXPECT_EQ(l[1].name, "old");
}

TEST_F(EngineTest, ExpiringWithinAndPurge) {
  auto e = open();
  e->create("alice", spec("soon", {"device"}, {Expiry::Kind::kIn, 2 * kMicrosPerDay}), "");
  e->create("alice", spec("later", {"device"}, {Expiry::Kind::kIn, 20 * kMicrosPerDay}), "");
  auto gone = e->create("bob", spec("gone", {"device"}), "");
  auto soon = e->expiring_within(7 * kMicrosPerDay, std::nullopt);
  ASSERT_EQ(soon.size(), 1u);
  EXPECT_EQ(soon[0].name, "soon");
  EXPECT_TRUE(e->expiring_within(7 * kMicrosPerDay, std::string("bob")).empty());

  e->revoke("bob", token_id_format(gone.record.id), "");
  clock->advance_us(3 * kMicrosPerDay);           // "soon" expired 1 day ago, "gone" revoked 3 days ago
  EXPECT_EQ(e->purge(2 * kMicrosPerDay, ""), 1);  // only "gone"
  EXPECT_EQ(e->purge(0, ""), 1);                  // now "soon"
  ASSERT_EQ(e->list("alice").size(), 1u);
  EXPECT_EQ(e->list("alice")[0].name, "later");
}

TEST_F(EngineTest, AuditRecordsEveryChangeWithoutSecrets) {
  auto e = open();
  auto t = e->create("alice", spec("ci", {"device"}), "");
  const std::string id = token_id_format(t.record.id);
  e->update_scopes("alice", id, {"policy"}, "admin");
  e->rotate("alice", id, "");
  auto log = e->audit(std::nullopt, 100);
  ASSERT_EQ(log.size(), 4u);  // create, update_scopes, revoke (by rotate), rotate
  EXPECT_EQ(log[3].action, "create");
  EXPECT_EQ(log[2].action, "update_scopes");
  EXPECT_EQ(log[2].actor, "admin");
  EXPECT_EQ(log[2].old_scopes, "device");
  EXPECT_EQ(log[2].new_scopes, "policy");
  EXPECT_EQ(log[1].action, "revoke");
  EXPECT_EQ(log[0].action, "rotate");
  EXPECT_EQ(e->audit(std::string("bob"), 100).size(), 0u);
  EXPECT_EQ(e->audit(std::nullopt, 2).size(), 2u);
}

TEST_F(EngineTest, ReopenKeepsTokensVerifiable) {
  std::string token;
  {
    auto e = open();
    token = std::string(e->create("alice", spec("ci", {"device"}), "").token.view());
  }
  auto e = open();
  EXPECT_EQ(e->verify(token, e->required_mask({"device:read"}), nullptr), VerifyStatus::kOk);
}

TEST_F(EngineTest, PepperRotationKeepsOldTokensValid) {
  std::string token;
  {
    auto e = open();
    token = std::string(e->create("alice", spec("ci", {"device"}), "").token.view());
  }
  StoreOptions rotated;
  rotated.pepper_hex = kPepperB;
  rotated.previous_peppers_hex = {kPepperA};
  EXPECT_EQ(open(rotated)->verify(token, 0, nullptr), VerifyStatus::kOk);
  StoreOptions only_new;
  only_new.pepper_hex = kPepperB;
  EXPECT_EQ(open(only_new)->verify(token, 0, nullptr), VerifyStatus::kInvalid);
}

TEST_F(EngineTest, VocabularyAndPrefixArePersisted) {
  StoreOptions o;
  o.engine.vocabulary = ScopeVocabulary(std::vector<ScopeEntry>{{"fleet", {"read", "write"}}});
  o.engine.prefix = "acme";
  auto e = open(o);
  auto t = e->create("alice", spec("f", {"fleet:read"}), "");
  EXPECT_EQ(std::string(t.token.view()).substr(0, 5), "acme_");
  e.reset();
  auto again = open();  // no options: the persisted ones
  EXPECT_EQ(again->prefix(), "acme");
  EXPECT_EQ(again->vocabulary().serialize(), "fleet:read,write");
  again.reset();
  StoreOptions narrower;
  narrower.engine.vocabulary = ScopeVocabulary(std::vector<ScopeEntry>{{"other", {"read"}}});
  EXPECT_EQ(code_of([&] { open(narrower); }), ErrorCode::kInvalidArgument);
  StoreOptions other_prefix;
  other_prefix.engine.prefix = "tk";
  EXPECT_EQ(code_of([&] { open(other_prefix); }), ErrorCode::kInvalidArgument);
  StoreOptions more_actions;  // tokens holding "fleet" would silently gain fleet:admin
  more_actions.engine.vocabulary =
      ScopeVocabulary(std::vector<ScopeEntry>{{"fleet", {"read", "write", "admin"}}});
  EXPECT_EQ(code_of([&] { open(more_actions); }), ErrorCode::kInvalidArgument);
  StoreOptions wider;
  wider.engine.vocabulary = ScopeVocabulary({{"fleet", {"read", "write"}}, {"report", {"read"}}});
  EXPECT_EQ(open(wider)->vocabulary().serialize(), "fleet:read,write;report:read");
}

TEST_F(EngineTest, DatabaseFileIsPrivate) {
  open()->create("alice", spec("ci", {"device"}), "");
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(EngineTest, NotADatabaseIsAStoreError) {
  std::ofstream(db) << std::string(4096, 'x');
  try {
    open();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("not a database"), std::string::npos) << e.what();
  }
}

void sql(const std::string& db, const char* statement) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, statement, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);
}

TEST_F(EngineTest, NewerSchemaIsRefused) {
  open();
  sql(db, "PRAGMA user_version = 99");
  try {
    open();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST_F(EngineTest, OlderSchemaIsMigrated) {
  std::string token;
  {
    auto e = open();
    token = std::string(e->create("alice", spec("ci", {"device"}), "").token.view());
  }
  // A version-1 database: no audit index (2), no listing indexes (3), no scope-use table (4),
  // no audit index by action (5), no description column (6), no networks nor clients (7), no
  // warm-start index (8, 9).
  sql(db,
      "DROP INDEX tokens_warm; DROP INDEX audit_owner_seq; DROP INDEX tokens_owner_list; DROP INDEX "
      "tokens_owner_live; "
      "DROP TABLE token_scope_use; DROP INDEX audit_owner_action_seq; "
      "ALTER TABLE tokens DROP COLUMN description; DROP TABLE token_client; "
      "ALTER TABLE tokens DROP COLUMN networks; PRAGMA user_version = 1");
  auto e = open();
  EXPECT_EQ(e->verify(token, 0, nullptr), VerifyStatus::kOk);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(
      h,
      "SELECT (SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_master WHERE name IN ('audit_owner_seq', 'tokens_owner_list', "
      "'tokens_owner_live', 'token_scope_use', 'audit_owner_action_seq', 'token_client', "
      "'tokens_warm'))",
      -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kSchemaVersion);
  EXPECT_EQ(sqlite3_column_int(st, 1), 7);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST_F(EngineTest, LastUsedIsShownAtOnceAndPersistedOffThePath) {
  auto e = open();
  auto other = open();  // another process's view: reads only what was persisted
  auto t = e->create("alice", spec("ci", {"device"}), "");
  const std::string id = token_id_format(t.record.id);
  EXPECT_FALSE(e->get("alice", id).last_used_at.has_value());

  ASSERT_EQ(e->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(e->get("alice", id).last_used_at, kT0);  // in memory, at once
  // The first use is persisted by the background thread within seconds.
  std::optional<std::int64_t> seen;
  for (int i = 0; i < 100 && seen != kT0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = other->get("alice", id).last_used_at;
  }
  EXPECT_EQ(seen, kT0);

  clock->advance_us(30 * kMicrosPerSecond);
  ASSERT_EQ(e->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(e->get("alice", id).last_used_at, kT0 + 30 * kMicrosPerSecond);
  e->uses_flush();
  EXPECT_EQ(other->get("alice", id).last_used_at, kT0);  // not due: at most once a minute

  clock->advance_us(31 * kMicrosPerSecond);
  ASSERT_EQ(e->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  e->uses_flush();
  EXPECT_EQ(other->get("alice", id).last_used_at, kT0 + 61 * kMicrosPerSecond);

  clock->advance_us(5 * kMicrosPerSecond);
  ASSERT_EQ(e->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  e.reset();  // closing persists what is pending, due or not
  EXPECT_EQ(other->get("alice", id).last_used_at, kT0 + 66 * kMicrosPerSecond);
}

// A read-only store records no use, not even in memory: what it reports is what is stored
// (`tokenkeep verify --json` said "used now" where `show` said "never").
TEST_F(EngineTest, ReadOnlyStoreRecordsNoUseAndReportsTheRecordedOne) {
  auto writer = open();
  auto t = writer->create("alice", spec("ci", {"device"}), "");
  const std::string id = token_id_format(t.record.id);
  StoreOptions ro;
  ro.sqlite.read_only = true;
  auto reader = open(ro);
  int reported_a_use = 0;
  for (int i = 0; i < 20; ++i) {
    clock->advance_us(2 * kMicrosPerSecond);
    ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
    if (reader->get("alice", id).last_used_at.has_value()) ++reported_a_use;
  }
  reader.reset();  // closing has nothing to persist
  EXPECT_EQ(reported_a_use, 0);
  EXPECT_FALSE(writer->get("alice", id).last_used_at.has_value());
  EXPECT_FALSE(open()->get("alice", id).last_used_at.has_value());
}

}  // namespace
}  // namespace tokenkeep
