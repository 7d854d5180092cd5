// One suite, every TokenRepository: SQLite (in memory and on a file), the in-memory fake,
// and PostgreSQL (the server named by TOKENKEEP_TEST_PG; without it the PostgreSQL cases
// fail - they never skip). Each case gets an empty store of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "contract_backends.h"
#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {
namespace {

using testing::Backend;

TokenRecord record(std::int64_t id, const std::string& owner, const std::string& name, std::int64_t created,
                   std::optional<std::int64_t> expires = std::nullopt) {
  TokenRecord r;
  r.id = id;
  r.owner = owner;
  r.name = name;
  r.scopes = {"device"};
  for (std::size_t i = 0; i < r.digest.size(); ++i)
    r.digest[i] = static_cast<unsigned char>(id + static_cast<std::int64_t>(i));
  r.pepper_id = "pepper1";
  r.created_at = created;
  r.expires_at = expires;
  return r;
}

// `call` throws Error with this code, field and message: what a surface shows (the CLI's
// --json error, the page's form error) must not depend on the backend.
void expect_error(const std::function<void()>& call, ErrorCode code, const std::string& field,
                  const std::string& message) {
  try {
    call();
    ADD_FAILURE() << "expected an error: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(e.field, field) << e.what();
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TokenQuery live_of(const std::string& owner) {
  TokenQuery q;
  q.owner = owner;
  q.state = TokenQuery::State::kLive;
  q.limit = TokenQuery::kNoLimit;
  return q;
}

class RepositoryContract : public ::testing::TestWithParam<const Backend*> {
 protected:
  void SetUp() override {
    store_ = GetParam()->make_store();
    repo_ = store_->open();
  }
  std::unique_ptr<Backend::Store> store_;
  std::unique_ptr<TokenRepository> repo_;
};

TEST_P(RepositoryContract, SettingsKeepTheFirstValueUnlessExpected) {
  EXPECT_FALSE(repo_->setting_get("prefix"));
  EXPECT_EQ(repo_->setting_put("prefix", "tk", std::nullopt), "tk");
  EXPECT_EQ(repo_->setting_get("prefix"), "tk");
  EXPECT_EQ(repo_->setting_put("prefix", "zz", std::nullopt), "tk");  // not the expected old value
  EXPECT_EQ(repo_->setting_put("prefix", "zz", std::string("tk")), "zz");
  EXPECT_EQ(repo_->setting_get("prefix"), "zz");
}

TEST_P(RepositoryContract, InsertFindListRoundTrip) {
  repo_->tokens_insert(
      {record(11, "alice", "a", 100, 5000), record(12, "alice", "b", 200), record(13, "bob", "a", 150)},
      "admin", 300);
  auto r = repo_->token_find(12);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->owner, "alice");
  EXPECT_EQ(r->name, "b");
  EXPECT_EQ(r->scopes, std::vector<std::string>{"device"});
  EXPECT_EQ(r->digest, record(12, "alice", "b", 200).digest);
  EXPECT_EQ(r->pepper_id, "pepper1");
  EXPECT_EQ(r->created_at, 200);
  EXPECT_FALSE(r->expires_at);
  EXPECT_FALSE(r->revoked_at);
  EXPECT_EQ(repo_->token_find(11)->expires_at, 5000);
  EXPECT_FALSE(repo_->token_find(99));
  EXPECT_TRUE(repo_->token_find_owned("alice", 11));
  EXPECT_FALSE(repo_->token_find_owned("bob", 11));  // never another owner's row
  auto list = repo_->tokens_query(live_of("alice"), 1).records;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, 12);  // newest first
  EXPECT_EQ(list[1].id, 11);
  auto audit = repo_->audit_list(std::string("bob"), 10);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "create");
  EXPECT_EQ(audit[0].actor, "admin");
  EXPECT_EQ(audit[0].token_id, 13);
  EXPECT_EQ(audit[0].at, 300);
  EXPECT_EQ(repo_->audit_list(std::nullopt, 2).size(), 2u);
}

TEST_P(RepositoryContract, LiveNamesAreUniquePerOwnerAndInsertIsAllOrNothing) {
  repo_->tokens_insert({record(1, "alice", "ci", 1)}, "alice", 1);
  expect_error(
      [&] {
        repo_->tokens_insert({record(2, "alice", "other", 2), record(3, "alice", "ci", 2)}, "alice", 2);
      },
      ErrorCode::kNameTaken, "name", "a token named 'ci' already exists");
  EXPECT_FALSE(repo_->token_find(2));  // nothing of the batch was kept
  EXPECT_EQ(repo_->audit_list(std::nullopt, 10).size(), 1u);
  repo_->tokens_insert({record(4, "bob", "ci", 3)}, "bob", 3);  // another owner may
  ASSERT_TRUE(repo_->tokens_revoke("alice", {1}, "alice", 4));
  repo_->tokens_insert({record(5, "alice", "ci", 5)}, "alice", 5);  // a revoked name is free again
  EXPECT_TRUE(repo_->token_find_owned("alice", 5));
}

TEST_P(RepositoryContract, ANameTwiceInOneInsertIsNameTakenAndKeepsNothing) {
  expect_error(
      [&] {
        repo_->tokens_insert(
            {record(1, "alice", "ci", 1), record(2, "alice", "x", 1), record(3, "alice", "ci", 1)}, "alice",
            1);
      },
      ErrorCode::kNameTaken, "name", "a token named 'ci' already exists");
  EXPECT_FALSE(repo_->token_find(1));
  EXPECT_TRUE(repo_->audit_list(std::nullopt, 10).empty());
  repo_->tokens_insert({record(4, "alice", "ci", 1), record(5, "bob", "ci", 1)}, "x", 1);  // two owners may
  EXPECT_TRUE(repo_->token_find(5));
}

TEST_P(RepositoryContract, ATakenIdIsAStoreErrorAboutNoFieldAndKeepsNothing) {
  repo_->tokens_insert({record(1, "alice", "a", 1)}, "alice", 1);
  try {
    repo_->tokens_insert({record(2, "alice", "b", 2), record(1, "alice", "c", 2)}, "alice", 2);
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_EQ(e.field, "");
    const std::string message = e.what();  // names the backend's file or server, then the same words
    EXPECT_EQ(message.rfind("cannot insert tokens into ", 0), 0u) << message;
    const std::string tail = ": a constraint failed; nothing was created";
    ASSERT_GE(message.size(), tail.size());
    EXPECT_EQ(message.substr(message.size() - tail.size()), tail);
  }
  EXPECT_FALSE(repo_->token_find(2));
  EXPECT_EQ(repo_->token_find(1)->name, "a");
}

TEST_P(RepositoryContract, ChangesMoveTheGenerationAndNameTheirIds) {
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "alice", "b", 1), record(3, "alice", "c", 1)},
                       "alice", 1);
  repo_->tokens_touch({{1, 50}});
  const Coherence before = repo_->coherence();
  EXPECT_TRUE(before.stable);
  ASSERT_TRUE(repo_->token_update_scopes("alice", 1, {"device:read"}, "alice", 2));
  EXPECT_EQ(repo_->token_find(1)->scopes, std::vector<std::string>{"device:read"});
  EXPECT_FALSE(repo_->token_update_scopes("bob", 2, {"device:read"}, "bob", 2));
  ASSERT_TRUE(repo_->tokens_revoke("alice", {2}, "alice", 3));
  const Coherence after = repo_->coherence();
  EXPECT_TRUE(after.stable);
  EXPECT_GT(after.generation, before.generation);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(repo_->changes_since(before.generation, after.generation, &ids));
  EXPECT_NE(std::find(ids.begin(), ids.end(), 1), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), 3), ids.end());
  EXPECT_EQ(repo_->token_find(2)->revoked_at, 3);
}

TEST_P(RepositoryContract, DescriptionsAreStoredEditedAuditedAndKeptByRotate) {
  TokenRecord a = record(1, "alice", "a", 1);
  a.description = "deploys from CI \xc3\xa9";
  repo_->tokens_insert({a, record(2, "alice", "b", 1)}, "alice", 1);
  EXPECT_EQ(repo_->token_find(1)->description, "deploys from CI \xc3\xa9");
  EXPECT_EQ(repo_->token_find(2)->description, "");
  const Coherence before = repo_->coherence();
  ASSERT_TRUE(repo_->token_update_description("alice", 2, "nightly backup", "admin", 2));
  EXPECT_GT(repo_->coherence().generation, before.generation);  // verification's TokenInfo has it
  EXPECT_EQ(repo_->token_find_owned("alice", 2)->description, "nightly backup");
  EXPECT_FALSE(repo_->token_update_description("bob", 2, "x", "bob", 3));  // another owner's
  EXPECT_EQ(repo_->token_find(2)->description, "nightly backup");
  const auto audit = repo_->audit_list(std::string("alice"), 1);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "update_description");
  EXPECT_EQ(audit[0].actor, "admin");
  EXPECT_EQ(audit[0].detail, "nightly backup");
  EXPECT_EQ(audit[0].token_id, 2);
  EXPECT_EQ(repo_->tokens_query(live_of("alice"), 1).records.size(), 2u);
  for (const auto& r : repo_->tokens_query(live_of("alice"), 1).records) {
    EXPECT_EQ(r.description, r.id == 1 ? "deploys from CI \xc3\xa9" : "nightly backup");
  }
  ASSERT_TRUE(repo_->token_rotate("alice", 1, record(3, "alice", "ignored", 5), "alice", 5));
  EXPECT_EQ(repo_->token_find(3)->description, "deploys from CI \xc3\xa9");    // kept, like the name
  EXPECT_FALSE(repo_->token_update_description("alice", 1, "x", "alice", 6));  // revoked
}

TEST_P(RepositoryContract, CreatesAndTouchesAreNotAnnounced) {
  const Coherence before = repo_->coherence();
  repo_->tokens_insert({record(1, "alice", "a", 1)}, "alice", 1);
  repo_->tokens_touch({{1, 70}, {1, 60}});
  EXPECT_EQ(repo_->coherence(), before);
  EXPECT_EQ(repo_->token_find(1)->last_used_at, 70);  // max, not last
}

TEST_P(RepositoryContract, RevokeManyIsAllOrNothing) {
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "bob", "b", 1)}, "x", 1);
  EXPECT_FALSE(repo_->tokens_revoke("alice", {1, 2}, "alice", 2));  // 2 is bob's
  EXPECT_FALSE(repo_->token_find(1)->revoked_at);
  EXPECT_TRUE(repo_->tokens_revoke("alice", {1}, "alice", 2));
  EXPECT_FALSE(repo_->tokens_revoke("alice", {1}, "alice", 3));  // already revoked
}

TEST_P(RepositoryContract, RotateRevokesAndInsertsInOneStep) {
  repo_->tokens_insert({record(1, "alice", "ci", 1, 9000)}, "alice", 1);
  TokenRecord fresh = record(2, "alice", "ignored", 5, 12000);
  fresh.scopes = {"policy"};
  ASSERT_TRUE(repo_->token_rotate("alice", 1, fresh, "admin", 5));
  EXPECT_EQ(repo_->token_find(1)->revoked_at, 5);
  auto r = repo_->token_find_owned("alice", 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "ci");  // name and scopes kept from the old token
  EXPECT_EQ(r->scopes, std::vector<std::string>{"device"});
  EXPECT_EQ(r->expires_at, 12000);  // the expiry is the replacement's (the engine chooses it)
  EXPECT_FALSE(repo_->token_rotate("alice", 1, record(3, "alice", "x", 6), "admin", 6));
  auto audit = repo_->audit_list(std::string("alice"), 10);
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].action, "rotate");
  EXPECT_EQ(audit[1].action, "revoke");
  EXPECT_EQ(audit[1].detail, "replaced by 2");
}

TEST_P(RepositoryContract, PurgeDeletesOldRowsAndInvalidatesEverything) {
  repo_->tokens_insert(
      {record(1, "alice", "a", 1, 100), record(2, "alice", "b", 1, 10000), record(3, "alice", "c", 1)},
      "alice", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "alice", 50));
  const Coherence before = repo_->coherence();
  EXPECT_EQ(repo_->tokens_purgeable(200), 2);  // counted, not deleted, not announced
  EXPECT_EQ(repo_->tokens_purgeable(20), 0);
  EXPECT_TRUE(repo_->token_find(1));
  EXPECT_EQ(repo_->coherence().generation, before.generation);
  EXPECT_EQ(repo_->tokens_purge(200, "system", 300), 2);
  EXPECT_FALSE(repo_->token_find(1));
  EXPECT_TRUE(repo_->token_find(2));
  EXPECT_FALSE(repo_->token_find(3));
  const Coherence after = repo_->coherence();
  EXPECT_GT(after.generation, before.generation);
  std::vector<std::int64_t> ids;
  EXPECT_FALSE(repo_->changes_since(before.generation, after.generation, &ids));
  EXPECT_EQ(repo_->audit_list(std::nullopt, 1)[0].detail, "2 tokens");
}

TEST_P(RepositoryContract, PurgeTakesRowsRevokedOrExpiredStrictlyBeforeTheCutoff) {
  repo_->tokens_insert(
      {record(1, "alice", "expired-at-cutoff", 1, 100), record(2, "alice", "expired-before", 1, 99),
       record(3, "alice", "revoked-at-cutoff", 1), record(4, "alice", "revoked-before", 1),
       record(5, "alice", "never", 1)},
      "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "x", 100));
  ASSERT_TRUE(repo_->tokens_revoke("alice", {4}, "x", 99));
  EXPECT_EQ(repo_->tokens_purgeable(100), 2);
  EXPECT_EQ(repo_->tokens_purge(100, "system", 200), 2);
  EXPECT_TRUE(repo_->token_find(1));
  EXPECT_FALSE(repo_->token_find(2));
  EXPECT_TRUE(repo_->token_find(3));
  EXPECT_FALSE(repo_->token_find(4));
  EXPECT_TRUE(repo_->token_find(5));
  EXPECT_EQ(repo_->tokens_purgeable(101), 2);  // the ones at 100, now before the cutoff
}

TEST_P(RepositoryContract, ExpiringIsSoonestFirstAndFiltersByOwner) {
  repo_->tokens_insert({record(1, "alice", "a", 1, 300), record(2, "bob", "b", 1, 200),
                        record(3, "alice", "c", 1, 900), record(4, "alice", "d", 1)},
                       "x", 1);
  auto all = repo_->tokens_expiring(100, 500, std::nullopt);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, 2);
  EXPECT_EQ(all[1].id, 1);
  auto alice = repo_->tokens_expiring(100, 1000, std::string("alice"));
  ASSERT_EQ(alice.size(), 2u);
  EXPECT_EQ(alice[0].id, 1);
}

TEST_P(RepositoryContract, ExpiringIncludesBothEndsAndNoRevokedToken) {
  repo_->tokens_insert({record(1, "alice", "at-from", 1, 100), record(2, "alice", "at-until", 1, 200),
                        record(3, "alice", "before", 1, 99), record(4, "alice", "after", 1, 201),
                        record(5, "alice", "revoked", 1, 150), record(6, "alice", "never", 1)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {5}, "x", 2));
  auto found = repo_->tokens_expiring(100, 200, std::string("alice"));
  std::vector<std::int64_t> ids;
  for (const auto& r : found) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(repo_->tokens_expiring(100, 200, std::string("bob")).empty());
}

TEST_P(RepositoryContract, AChangeThroughOneHandleIsSeenThroughAnother) {
  auto other = store_->open();
  repo_->tokens_insert({record(1, "alice", "a", 1)}, "alice", 1);
  EXPECT_TRUE(other->token_find(1));  // a create is visible at once
  const Coherence before = other->coherence();
  ASSERT_TRUE(repo_->tokens_revoke("alice", {1}, "alice", 2));
  // When the revoke returned, the other handle's coherence already shows it.
  const Coherence after = other->coherence();
  EXPECT_TRUE(after.stable);
  ASSERT_GT(after.generation, before.generation);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(other->changes_since(before.generation, after.generation, &ids));
  EXPECT_NE(std::find(ids.begin(), ids.end(), 1), ids.end());
  EXPECT_TRUE(other->token_find(1)->revoked_at);
}

TEST_P(RepositoryContract, AnnounceNamesTheOwnersLiveTokensToEveryHandleAndChangesNothing) {
  auto other = store_->open();
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "alice", "b", 1), record(3, "bob", "c", 1),
                        record(4, "alice", "d", 1)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {4}, "alice", 2));
  const auto audit_before = repo_->audit_list(std::nullopt, 100).size();
  const Coherence before = other->coherence();
  EXPECT_EQ(repo_->tokens_announce("alice"), 2u);
  const Coherence after = other->coherence();  // seen through another handle when it returned
  EXPECT_TRUE(after.stable);
  ASSERT_GT(after.generation, before.generation);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(other->changes_since(before.generation, after.generation, &ids));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2}));                     // not bob's, not the revoked one
  EXPECT_EQ(repo_->audit_list(std::nullopt, 100).size(), audit_before);  // not audited
  EXPECT_EQ(repo_->token_find(1)->scopes, record(1, "alice", "a", 1).scopes);
  EXPECT_FALSE(repo_->token_find(1)->revoked_at);
  const Coherence quiet = other->coherence();
  EXPECT_EQ(repo_->tokens_announce("nobody"), 0u);  // nothing to announce: nothing moves
  EXPECT_EQ(other->coherence(), quiet);
}

// ---- Listing query (tokens_query) ----------------------------------------------------------

std::vector<std::int64_t> ids_of(const TokenPage& page) {
  std::vector<std::int64_t> out;
  for (const auto& r : page.records) out.push_back(r.id);
  return out;
}

TokenQuery query_of(std::optional<std::string> owner) {
  TokenQuery q;
  q.owner = std::move(owner);
  return q;
}

using Ids = std::vector<std::int64_t>;

TEST_P(RepositoryContract, QueryFiltersByStateAtNowAndOwner) {
  repo_->tokens_insert({record(1, "alice", "a", 10, 500), record(2, "alice", "b", 20, 1000),
                        record(3, "alice", "c", 30), record(4, "bob", "d", 40)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "x", 50));
  TokenQuery q = query_of(std::string("alice"));
  TokenPage page = repo_->tokens_query(q, 500);  // expires_at == now: still active (as verify)
  EXPECT_EQ(ids_of(page), (Ids{2, 1}));
  EXPECT_EQ(page.total, 2);
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 501)), (Ids{2}));
  q.state = TokenQuery::State::kInactive;
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 501)), (Ids{3, 1}));  // revoked, then expired
  q.state = TokenQuery::State::kAll;
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 501)), (Ids{3, 2, 1}));
  EXPECT_TRUE(repo_->tokens_query(q, 501).records[0].revoked_at);
  TokenQuery everyone = query_of(std::nullopt);
  everyone.state = TokenQuery::State::kAll;
  EXPECT_EQ(ids_of(repo_->tokens_query(everyone, 501)), (Ids{4, 3, 2, 1}));
  EXPECT_EQ(repo_->tokens_query(query_of(std::string("carol")), 1).total, 0);
}

TEST_P(RepositoryContract, QueryLiveStateIsEveryUnrevokedTokenExpiredOrNot) {
  repo_->tokens_insert({record(1, "alice", "a", 10, 500), record(2, "alice", "b", 20),
                        record(3, "alice", "c", 30), record(4, "bob", "d", 40, 100)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "x", 50));
  TokenPage live = repo_->tokens_query(live_of("alice"), 1000);  // 1 has expired: still live
  EXPECT_EQ(ids_of(live), (Ids{2, 1}));
  EXPECT_EQ(live.total, 2);
  TokenQuery everyone = query_of(std::nullopt);
  everyone.state = TokenQuery::State::kLive;
  EXPECT_EQ(ids_of(repo_->tokens_query(everyone, 1000)), (Ids{4, 2, 1}));
  TokenQuery q = live_of("alice");
  q.sort = TokenQuery::Sort::kName;
  q.descending = false;
  q.limit = 1;
  q.offset = 1;
  TokenPage second = repo_->tokens_query(q, 1000);
  EXPECT_EQ(ids_of(second), (Ids{2}));
  EXPECT_EQ(second.total, 2);
}

TEST_P(RepositoryContract, QueryPagesWithATotal) {
  std::vector<TokenRecord> rs;
  for (int i = 1; i <= 7; ++i) rs.push_back(record(i, "alice", "t" + std::to_string(i), 100 + i));
  repo_->tokens_insert(rs, "x", 1);
  TokenQuery q = query_of(std::string("alice"));
  q.limit = 3;
  TokenPage first = repo_->tokens_query(q, 1);
  EXPECT_EQ(ids_of(first), (Ids{7, 6, 5}));
  EXPECT_EQ(first.total, 7);
  q.offset = 6;
  TokenPage last = repo_->tokens_query(q, 1);
  EXPECT_EQ(ids_of(last), (Ids{1}));
  EXPECT_EQ(last.total, 7);
  q.offset = 50;  // past the end: no rows, still the count
  TokenPage past = repo_->tokens_query(q, 1);
  EXPECT_TRUE(past.records.empty());
  EXPECT_EQ(past.total, 7);
  q.offset = 0;
  q.limit = TokenQuery::kNoLimit;
  EXPECT_EQ(repo_->tokens_query(q, 1).records.size(), 7u);
}

TEST_P(RepositoryContract, QuerySearchIsACaseInsensitiveLiteralSubstring) {
  repo_->tokens_insert({record(1, "alice", "CI-Deploy", 1), record(2, "alice", "ci_deploy", 2),
                        record(3, "alice", "100% done", 3), record(4, "alice", "laptop", 4),
                        record(5, "alice", "ciXdeploy", 5)},
                       "x", 1);
  TokenQuery q = query_of(std::string("alice"));
  q.search = "ci-DEP";
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{1}));
  q.search = "_";  // a wildcard in LIKE: here only the character itself
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{2}));
  q.search = "%";
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{3}));
  q.search = "ci";
  EXPECT_EQ(repo_->tokens_query(q, 1).total, 3);
  q.search = "nothing";
  EXPECT_EQ(repo_->tokens_query(q, 1).total, 0);
}

TEST_P(RepositoryContract, QueryScopesMatchAnyStoredScope) {
  TokenRecord a = record(1, "alice", "a", 1);
  a.scopes = {"device", "policy:read"};
  TokenRecord b = record(2, "alice", "b", 2);
  b.scopes = {"collection:read"};
  TokenRecord c = record(3, "alice", "c", 3);
  c.scopes = {"policy"};
  repo_->tokens_insert({a, b, c}, "x", 1);
  TokenQuery q = query_of(std::string("alice"));
  q.scopes_any = {"policy:read"};
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{1}));  // whole stored strings only
  q.scopes_any = {"policy:read", "policy"};
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{3, 1}));
  q.scopes_any = {"collection:read", "device"};
  EXPECT_EQ(ids_of(repo_->tokens_query(q, 1)), (Ids{2, 1}));
  q.scopes_any = {"collection"};
  EXPECT_EQ(repo_->tokens_query(q, 1).total, 0);
}

TEST_P(RepositoryContract, QuerySortsEachColumnBothWaysWithIdTies) {
  repo_->tokens_insert({record(1, "alice", "b", 10, 300), record(2, "alice", "a", 10),
                        record(3, "alice", "C", 30, 200), record(4, "alice", "B2", 20, 300)},
                       "x", 1);
  repo_->tokens_touch({{1, 70}, {3, 50}});
  TokenQuery q = query_of(std::string("alice"));
  auto sorted = [&](TokenQuery::Sort sort, bool descending) {
    q.sort = sort;
    q.descending = descending;
    return ids_of(repo_->tokens_query(q, 1));
  };
  EXPECT_EQ(sorted(TokenQuery::Sort::kCreated, true), (Ids{3, 4, 2, 1}));
  EXPECT_EQ(sorted(TokenQuery::Sort::kCreated, false), (Ids{1, 2, 4, 3}));
  EXPECT_EQ(sorted(TokenQuery::Sort::kName, false), (Ids{4, 3, 2, 1}));  // bytewise: "B2" < "C" < "a" < "b"
  EXPECT_EQ(sorted(TokenQuery::Sort::kName, true), (Ids{1, 2, 3, 4}));
  EXPECT_EQ(sorted(TokenQuery::Sort::kExpires, false), (Ids{3, 1, 4, 2}));  // never expires: last
  EXPECT_EQ(sorted(TokenQuery::Sort::kExpires, true), (Ids{2, 4, 1, 3}));
  EXPECT_EQ(sorted(TokenQuery::Sort::kLastUsed, false), (Ids{2, 4, 3, 1}));  // never used: first
  EXPECT_EQ(sorted(TokenQuery::Sort::kLastUsed, true), (Ids{1, 3, 4, 2}));
}

TEST_P(RepositoryContract, QueryCountFollowsEveryChangeAndTheClock) {
  auto other = store_->open();  // another connection or process
  repo_->tokens_insert(
      {record(1, "alice", "a", 1, 100), record(2, "alice", "b", 2, 300), record(3, "alice", "c", 3)}, "x", 1);
  TokenQuery q = query_of(std::string("alice"));
  auto total = [&](std::int64_t now) { return repo_->tokens_query(q, now).total; };
  EXPECT_EQ(total(50), 3);
  EXPECT_EQ(total(100), 3);  // expires_at == now: still active
  EXPECT_EQ(total(101), 2);
  EXPECT_EQ(total(50), 3);  // a clock set back
  EXPECT_EQ(total(301), 1);
  other->tokens_insert({record(4, "alice", "d", 4)}, "x", 5);
  EXPECT_EQ(total(50), 4);
  ASSERT_TRUE(other->tokens_revoke("alice", {3}, "x", 6));
  EXPECT_EQ(total(50), 3);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {4}, "x", 7));
  EXPECT_EQ(total(50), 2);
  q.state = TokenQuery::State::kInactive;
  EXPECT_EQ(total(50), 2);
  EXPECT_EQ(total(101), 3);
  q.search = "b";
  EXPECT_EQ(total(50), 0);
  EXPECT_EQ(total(301), 1);
}

// ---- end of listing query ------------------------------------------------------------------

// --- Leak response and scope usage ------------------------------------------------------------

TEST_P(RepositoryContract, LeakRevokeRevokesLiveTokensOfAnyOwnerSeenThroughAnotherHandle) {
  auto other = store_->open();
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "bob", "b", 1), record(3, "alice", "c", 1)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "alice", 2));
  const Coherence before = other->coherence();
  const auto revoked = repo_->tokens_revoke_leaked(
      {{1, "app.log, line 3"}, {2, "app.log, line 9"}, {3, "app.log, line 12"}, {99, "app.log, line 20"}},
      "leak-scan", 10);
  EXPECT_EQ(revoked, (std::vector<std::int64_t>{1, 2}));  // 3 was revoked already, 99 never existed
  EXPECT_EQ(repo_->token_find(1)->revoked_at, 10);
  EXPECT_EQ(repo_->token_find(2)->revoked_at, 10);
  EXPECT_EQ(repo_->token_find(3)->revoked_at, 2);  // untouched
  // A change under the coherence contract: the other handle's cache must drop 1 and 2.
  const Coherence after = other->coherence();
  EXPECT_TRUE(after.stable);
  ASSERT_GT(after.generation, before.generation);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(other->changes_since(before.generation, after.generation, &ids));
  EXPECT_NE(std::find(ids.begin(), ids.end(), 1), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 2), ids.end());
  EXPECT_TRUE(other->token_find(2)->revoked_at);
  auto bob = repo_->audit_list(std::string("bob"), 10);
  ASSERT_EQ(bob.size(), 2u);
  EXPECT_EQ(bob[0].action, "leaked");
  EXPECT_EQ(bob[0].actor, "leak-scan");
  EXPECT_EQ(bob[0].token_id, 2);
  EXPECT_EQ(bob[0].name, "b");
  EXPECT_EQ(bob[0].old_scopes, "device");
  EXPECT_EQ(bob[0].detail, "app.log, line 9");
  EXPECT_EQ(bob[0].at, 10);
  auto alice = repo_->audit_list(std::string("alice"), 10);
  ASSERT_EQ(alice.size(), 4u);  // 2 creates, the revoke of 3, the leak of 1
  EXPECT_EQ(alice[0].action, "leaked");
  EXPECT_EQ(alice[0].token_id, 1);
  EXPECT_EQ(alice[1].action, "revoke");
}

TEST_P(RepositoryContract, TokensFindReturnsEveryRowAmongTheIdsInOneCall) {
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "bob", "b", 1), record(3, "alice", "c", 1)},
                       "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {3}, "alice", 2));
  std::vector<std::int64_t> ids = {99, 3, 1};
  for (std::int64_t i = 1000; i < 1000 + static_cast<std::int64_t>(Engine::kLeakBatch); ++i) ids.push_back(i);
  auto rows = repo_->tokens_find(ids);
  std::sort(rows.begin(), rows.end(), [](const TokenRecord& a, const TokenRecord& b) { return a.id < b.id; });
  ASSERT_EQ(rows.size(), 2u);  // 99 and the 2000 others never existed; 2 was not asked for
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].owner, "alice");
  EXPECT_EQ(rows[0].digest, record(1, "alice", "a", 1).digest);
  EXPECT_EQ(rows[1].id, 3);
  EXPECT_EQ(rows[1].revoked_at, 2);  // revoked rows too, as token_find
  EXPECT_EQ(rows[1].name, "c");
  EXPECT_TRUE(repo_->tokens_find({}).empty());
}

TEST_P(RepositoryContract, LeakRevokeOfNothingLiveChangesNothing) {
  repo_->tokens_insert({record(1, "alice", "a", 1)}, "x", 1);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {1}, "alice", 2));
  const auto audit_before = repo_->audit_list(std::nullopt, 10).size();
  EXPECT_TRUE(repo_->tokens_revoke_leaked({{1, "paste"}, {42, "paste"}}, "leak-scan", 5).empty());
  EXPECT_TRUE(repo_->tokens_revoke_leaked({}, "leak-scan", 5).empty());
  EXPECT_EQ(repo_->audit_list(std::nullopt, 10).size(), audit_before);
  EXPECT_EQ(repo_->token_find(1)->revoked_at, 2);
}

TEST_P(RepositoryContract, ScopeUsesKeepTheLatestPerScopeAreNotAnnouncedAndGoWithPurge) {
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "alice", "b", 1)}, "x", 1);
  const Coherence before = repo_->coherence();
  repo_->scopes_touch({{1, "device:read", 100},
                       {1, "device:read", 50},
                       {1, "device:write", 70},
                       {2, "device:read", 80},
                       {99, "device:read", 10}});
  repo_->scopes_touch({{1, "device:write", 60}});  // older than what is stored: kept at 70
  EXPECT_EQ(repo_->coherence(), before);
  auto key = [](const ScopeUse& u) {
    return std::to_string(u.id) + " " + u.scope + " " + std::to_string(u.at);
  };
  auto sorted = [&](std::vector<ScopeUse> v) {
    std::vector<std::string> out;
    for (const auto& u : v) out.push_back(key(u));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(sorted(repo_->scopes_used({1, 2, 99}, 60)),
            (std::vector<std::string>{"1 device:read 100", "1 device:write 70", "2 device:read 80"}));
  EXPECT_EQ(sorted(repo_->scopes_used({1, 2}, 75)),
            (std::vector<std::string>{"1 device:read 100", "2 device:read 80"}));
  EXPECT_EQ(sorted(repo_->scopes_used({2}, 0)), (std::vector<std::string>{"2 device:read 80"}));
  EXPECT_TRUE(repo_->scopes_used({}, 0).empty());
  ASSERT_TRUE(repo_->tokens_revoke("alice", {2}, "alice", 200));
  EXPECT_EQ(repo_->tokens_purge(300, "system", 300), 1);
  EXPECT_TRUE(repo_->scopes_used({2}, 0).empty());  // purged with its token
  EXPECT_EQ(sorted(repo_->scopes_used({1}, 0)),
            (std::vector<std::string>{"1 device:read 100", "1 device:write 70"}));
}

TEST_P(RepositoryContract, AuditActionsFiltersByOwnerActionAndTime) {
  repo_->tokens_insert({record(1, "alice", "a", 1), record(2, "alice", "b", 1), record(3, "bob", "c", 1)},
                       "x", 1);
  repo_->tokens_revoke_leaked({{1, "early"}}, "leak-scan", 10);
  repo_->tokens_revoke_leaked({{2, "late"}, {3, "late"}}, "leak-scan", 20);
  auto all = repo_->audit_actions("alice", "leaked", 0, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].detail, "late");  // newest first
  EXPECT_EQ(all[1].detail, "early");
  EXPECT_EQ(repo_->audit_actions("alice", "leaked", 15, 10).size(), 1u);
  EXPECT_EQ(repo_->audit_actions("alice", "leaked", 0, 1).size(), 1u);
  EXPECT_EQ(repo_->audit_actions("alice", "create", 0, 10).size(), 2u);
  EXPECT_EQ(repo_->audit_actions("bob", "leaked", 0, 10).size(), 1u);
  EXPECT_TRUE(repo_->audit_actions("carol", "leaked", 0, 10).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryContract, ::testing::ValuesIn(testing::contract_backends()),
                         [](const ::testing::TestParamInfo<const Backend*>& info) {
                           return info.param->name;
                         });

}  // namespace
}  // namespace tokenkeep
