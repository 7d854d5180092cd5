// A PostgreSQL store end to end (store_open on a URL): engines as separate nodes, the pepper
// rule, errors that never show the password. Needs TOKENKEEP_TEST_PG (fails without it).
#include <gtest/gtest.h>

#include "contract_backends.h"
#include "pg_connection.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/networks.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

class PgStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> node(const std::string& pepper = std::string(64, 'a'), bool strict = true) {
    StoreOptions o;
    o.pepper_hex = pepper;
    o.pg.strict = strict;
    o.pg.lease_seconds = 1.0;
    return store_open(schema.conninfo(), o);
  }
  testing::PgSchemaStore schema;
};

TEST_F(PgStoreTest, ARevokeOnOneNodeIsRefusedByTheNextVerifyOnAnother) {
  auto a = node();
  auto b = node();
  auto t = a->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(b->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  ASSERT_EQ(b->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  ASSERT_EQ(b->cache_size(), 1u);
  CachedTokenPtr out;
  EXPECT_TRUE(b->verify_cached(t.token.view(), 0, &out));  // answered from b's memory
  a->update_scopes("alice", token_id_format(t.record.id), {"device:read"}, "");
  EXPECT_EQ(b->verify(t.token.view(), b->required_mask({"device:write"}), nullptr),
            VerifyStatus::kInsufficientScope);
  a->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(b->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
  EXPECT_EQ(a->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
}

TEST_F(PgStoreTest, BoundedModeConvergesWithinTheLease) {
  auto a = node(std::string(64, 'a'), false);
  auto b = node(std::string(64, 'a'), false);
  auto t = a->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(b->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  a->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(a->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);  // the writer's own node at once
  VerifyStatus seen = VerifyStatus::kOk;
  for (int i = 0; i < 100 && seen == VerifyStatus::kOk; ++i) {
    seen = b->verify(t.token.view(), 0, nullptr);
    if (seen == VerifyStatus::kOk) usleep(10000);
  }
  EXPECT_EQ(seen, VerifyStatus::kRevoked);
}

TEST_F(PgStoreTest, ANodeWithAnotherPepperIsRefused) {
  auto a = node();
  try {
    node(std::string(64, 'b'));
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("another pepper"), std::string::npos) << e.what();
  }
}

TEST_F(PgStoreTest, AUrlStoreNeedsAnExplicitPepper) {
  unsetenv("TOKENKEEP_PEPPER");
  try {
    store_open(schema.conninfo(), StoreOptions{});
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("TOKENKEEP_PEPPER"), std::string::npos) << e.what();
  }
}

TEST_F(PgStoreTest, AnUnreachableServerIsAStoreErrorWithoutThePassword) {
  StoreOptions o;
  o.pepper_hex = std::string(64, 'a');
  try {
    store_open("postgresql://tk:hunter2secret@/nodb?host=/nonexistent&port=1", o);
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_EQ(std::string(e.what()).find("hunter2secret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nodb"), std::string::npos) << e.what();
  }
}

TEST_F(PgStoreTest, BulkCreateAndUsesPersist) {
  auto a = node();
  std::vector<NewToken> specs;
  for (int i = 0; i < 500; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto made = a->create_many("alice", specs, "");
  ASSERT_EQ(a->list("alice").size(), 500u);
  EXPECT_EQ(a->verify(made[7].token.view(), 0, nullptr), VerifyStatus::kOk);
  a->uses_flush();
  auto b = node();
  EXPECT_TRUE(b->get("alice", token_id_format(made[7].record.id)).last_used_at);
  EXPECT_THROW(a->create("alice", {"t3", {"device"}, {}}, ""), Error);
}

// Schema 10: a bulk create's events are tokenkeep_audit_batch rows of up to 256 events, not a
// tokenkeep_audit row per token; a small create still writes its rows. Read back (audit),
// they are one event per token either way (RepositoryBulk holds the order and limits).
TEST_F(PgStoreTest, ABulkCreateStoresItsEventsInRowsOf256) {
  auto a = node();
  std::vector<NewToken> specs;
  for (int i = 0; i < 300; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  a->create_many("alice", specs, "");
  a->create("alice", {"one", {"device"}, {}}, "");
  PgConnection c(schema.conninfo());
  PgParams none;
  auto count = [&](const char* sql) { return c.query(sql, none, "cannot count").i64(0, 0); };
  EXPECT_EQ(count("SELECT count(*) FROM tokenkeep_audit"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM tokenkeep_audit_batch"), 2);
  EXPECT_EQ(count("SELECT sum(n) FROM tokenkeep_audit_batch WHERE owner = 'alice'"), 300);
  EXPECT_EQ(count("SELECT max(n) FROM tokenkeep_audit_batch"), 256);
  // Each row's seqs: n of them, from first_seq to seq, and the second row's after the first's.
  EXPECT_EQ(count("SELECT count(*) FROM tokenkeep_audit_batch WHERE cardinality(seqs) = n AND "
                  "cardinality(names) = n AND seqs[1] = first_seq AND seqs[n] = seq"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM tokenkeep_audit_batch a JOIN tokenkeep_audit_batch b "
                  "ON a.seq < b.first_seq"),
            1);
  EXPECT_EQ(a->audit(std::string("alice"), 1000).size(), 301u);
}

// The cache miss is one statement in one round trip on the verifying thread, over many
// misses: no transaction block, no lease or feed work inline (the listener thread does that),
// no second statement; an unknown id costs one round trip once, then none.
TEST_F(PgStoreTest, ACacheMissIsOneStatementInOneRoundTrip) {
  auto a = node();
  std::vector<NewToken> specs;
  for (int i = 0; i < 300; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto made = a->create_many("alice", specs, "");
  auto b = node();
  ASSERT_EQ(b->verify(made[0].token.view(), 0, nullptr), VerifyStatus::kOk);  // prepares on b's connection
  int violations = 0;
  for (std::size_t i = 1; i < made.size(); ++i) {
    const PgWireCount before = pg_wire_count_this_thread();
    const VerifyStatus status = b->verify(made[i].token.view(), b->required_mask({"device:read"}), nullptr);
    const PgWireCount after = pg_wire_count_this_thread();
    if (status != VerifyStatus::kOk || after.round_trips - before.round_trips != 1 ||
        after.statements - before.statements != 1)
      ++violations;
  }
  EXPECT_EQ(violations, 0);
  // A cached token costs nothing; an unknown id one round trip, then none (negative cache).
  PgWireCount before = pg_wire_count_this_thread();
  EXPECT_EQ(b->verify(made[5].token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(pg_wire_count_this_thread().round_trips, before.round_trips);
  auto gone = a->create("bob", {"gone", {"device"}, {}}, "");  // then revoked and purged: unknown
  const std::string unknown(gone.token.view());
  a->revoke("bob", token_id_format(gone.record.id), "");
  ASSERT_GE(a->purge(0, ""), 1);
  before = pg_wire_count_this_thread();
  EXPECT_EQ(b->verify(unknown, 0, nullptr), VerifyStatus::kInvalid);
  EXPECT_EQ(pg_wire_count_this_thread().round_trips - before.round_trips, 1u);
  before = pg_wire_count_this_thread();
  EXPECT_EQ(b->verify(unknown, 0, nullptr), VerifyStatus::kInvalid);
  EXPECT_EQ(pg_wire_count_this_thread().round_trips, before.round_trips);
}

// The Access Token page's recent clients for a page of tokens: two statements whatever the
// number of tokens (the owner's live ones among them, then their clients), where one call per
// token made two each; the same answers as those calls.
TEST_F(PgStoreTest, RecentClientsOfManyTokensAreTwoStatements) {
  auto a = node();
  std::vector<NewToken> specs;
  for (int i = 0; i < 40; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto made = a->create_many("alice", specs, "");
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < made.size(); ++i) {
    const IpAddress from = *ip_address_parse("10.0.0." + std::to_string(i % 7));
    ASSERT_EQ(a->verify(made[i].token.view(), 0, nullptr, &from), VerifyStatus::kOk);
    ids.push_back(token_id_format(made[i].record.id));
  }
  a->uses_flush();
  auto b = node();                                  // reads what was persisted
  (void)b->recent_clients_many("alice", {ids[0]});  // opens and prepares b's connection
  PgWireCount before = pg_wire_count_this_thread();
  const auto many = b->recent_clients_many("alice", ids);
  EXPECT_EQ(pg_wire_count_this_thread().statements - before.statements, 2u);
  ASSERT_EQ(many.size(), made.size());
  int differ = 0;
  before = pg_wire_count_this_thread();
  for (const auto& t : made) {
    const auto one = b->recent_clients("alice", token_id_format(t.record.id));
    const auto& got = many.at(t.record.id);
    if (got.size() != 1 || one.size() != 1 || got[0].address != one[0].address || got[0].at != one[0].at)
      ++differ;
  }
  EXPECT_EQ(differ, 0);
  EXPECT_GE(pg_wire_count_this_thread().statements - before.statements, 2 * made.size());  // one at a time
}

// Without named prepared statements (PgBouncer before 1.21), the miss's binary id and row and
// a bulk create's COPY work the same: one statement in one round trip per miss.
TEST_F(PgStoreTest, WithoutPreparedStatementsAMissAndABulkCreateWork) {
  StoreOptions o;
  o.pepper_hex = std::string(64, 'a');
  o.pg.prepared_statements = false;
  auto a = store_open(schema.conninfo(), o);
  std::vector<NewToken> specs;
  for (int i = 0; i < 100; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto made = a->create_many("alice", specs, "");
  auto b = store_open(schema.conninfo(), o);
  int violations = 0;
  for (const auto& t : made) {
    const PgWireCount before = pg_wire_count_this_thread();
    const VerifyStatus status = b->verify(t.token.view(), 0, nullptr);
    const PgWireCount after = pg_wire_count_this_thread();
    if (status != VerifyStatus::kOk || after.round_trips - before.round_trips != 1 ||
        after.statements - before.statements != 1)
      ++violations;
  }
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(b->get("alice", token_id_format(made[42].record.id)).name, "t42");
}

TEST_F(PgStoreTest, AnUnknownIdLookedUpAgainCostsNoRoundTrip) {
  auto repo = schema.open();
  EXPECT_FALSE(repo->token_find(777));
  // Cut every session of this store: a lookup that needs the server now fails.
  PgConnection admin(schema.conninfo());
  admin.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = current_setting('application_name') AND pid <> pg_backend_pid()",
      "cannot terminate");
  EXPECT_FALSE(repo->token_find(777));         // answered by the negative cache
  EXPECT_THROW(repo->token_find(778), Error);  // a new unknown id goes to the server
}

TEST_F(PgStoreTest, ACreateThroughThisNodeClearsItsNegativeEntry) {
  auto repo = schema.open();
  EXPECT_FALSE(repo->token_find(4242));
  TokenRecord r;
  r.id = 4242;
  r.owner = "alice";
  r.name = "x";
  r.scopes = {"device"};
  r.pepper_id = "p";
  r.created_at = 1;
  repo->tokens_insert({r}, "alice", 1);
  EXPECT_TRUE(repo->token_find(4242));
}

}  // namespace
}  // namespace tokenkeep
