// Bulk inserts, on every TokenRepository (contract_backends.h): a batch large enough that
// PostgreSQL streams it (COPY, pg_store.cc) must keep the contract the small-batch tests in
// repository_contract_test.cc hold one statement to - all or nothing, the same NameTaken
// with its field and message, the same StoreError for a taken id, one audit event per token
// (on PostgreSQL stored as one batch row per owner, read back as rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "contract_backends.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

using testing::Backend;

constexpr int kBatch = 2000;  // far above any backend's small-batch path

TokenRecord bulk_record(std::int64_t id, const std::string& owner, const std::string& name) {
  TokenRecord r;
  r.id = id;
  r.owner = owner;
  r.name = name;
  r.scopes = {"device", "policy:read"};
  for (std::size_t i = 0; i < r.digest.size(); ++i)
    r.digest[i] = static_cast<unsigned char>(id * 7 + static_cast<std::int64_t>(i));
  r.pepper_id = "pepper1";
  r.created_at = 1000 + id;
  if (id % 3 == 0) r.expires_at = 900000 + id;
  if (id % 5 == 0) r.description = "batch note \"" + std::to_string(id) + "\" ü\\";
  return r;
}

// Ids first + 1 .. first + n, names "<prefix>-<i>".
std::vector<TokenRecord> batch(std::int64_t first, int n, const std::string& owner,
                               const std::string& prefix) {
  std::vector<TokenRecord> out;
  for (int i = 0; i < n; ++i)
    out.push_back(bulk_record(first + 1 + i, owner, prefix + "-" + std::to_string(i)));
  return out;
}

class RepositoryBulk : public ::testing::TestWithParam<const Backend*> {
 protected:
  void SetUp() override {
    store_ = GetParam()->make_store();
    repo_ = store_->open();
  }
  // What a failed insert must leave as it was: the owner's live tokens and the audit log.
  std::pair<std::size_t, std::size_t> state(const std::string& owner) {
    TokenQuery q;
    q.owner = owner;
    q.limit = TokenQuery::kNoLimit;
    return {repo_->tokens_query(q, 0).records.size(), repo_->audit_list(std::nullopt, 100000).size()};
  }
  std::unique_ptr<Backend::Store> store_;
  std::unique_ptr<TokenRepository> repo_;
};

TEST_P(RepositoryBulk, ABulkInsertKeepsEveryFieldAndAuditsEachTokenInIdOrder) {
  const auto records = batch(100, kBatch, "alice", "dev");
  repo_->tokens_insert(records, "admin", 777);
  int mismatches = 0;
  for (const auto& want : records) {
    auto got = repo_->token_find(want.id);
    if (!got || got->owner != want.owner || got->name != want.name || got->scopes != want.scopes ||
        got->digest != want.digest || got->pepper_id != want.pepper_id ||
        got->created_at != want.created_at || got->expires_at != want.expires_at ||
        got->description != want.description || got->last_used_at || got->revoked_at) {
      ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
  const auto audit = repo_->audit_list(std::nullopt, 100000);  // newest first
  ASSERT_EQ(audit.size(), records.size());
  int wrong = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const AuditEvent& e = audit[records.size() - 1 - i];
    const TokenRecord& r = records[i];
    if (e.at != 777 || e.actor != "admin" || e.action != "create" || e.token_id != r.id ||
        e.owner != r.owner || e.name != r.name || e.old_scopes != "" ||
        e.new_scopes != "device policy:read" || e.detail != "")
      ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}

// A bulk insert's events (on PostgreSQL one batch row per owner, schema 10) read as rows:
// in seq order among single events and other owners' batches, and every limit answers the
// newest events of the whole list - for one owner, for all, and for one action since a time.
TEST_P(RepositoryBulk, ABulkInsertsEventsReadAsRowsAmongOthersAtEveryLimit) {
  auto one = [&](std::int64_t id, std::int64_t at) {
    repo_->tokens_insert({bulk_record(id, "alice", "single-" + std::to_string(id))}, "admin", at);
  };
  auto first = batch(100, 70, "alice", "a");  // ids 101..170
  for (auto& r : first) {
    if (r.id % 4 == 0) r.networks = {"10.0.0.0/8"};
  }
  one(1, 10);
  repo_->tokens_insert(first, "admin", 20);
  repo_->tokens_insert(batch(5000, 80, "bob", "b"), "admin", 30);
  ASSERT_TRUE(repo_->tokens_revoke("alice", {1}, "alice", 40));
  constexpr int kC = 600;  // on PostgreSQL three batch rows: 256 + 256 + 88
  repo_->tokens_insert(batch(1000, kC, "alice", "c"), "admin", 50);
  one(2, 60);

  using Key = std::tuple<std::string, std::int64_t, std::string, std::string, std::int64_t, std::string>;
  auto key = [](const AuditEvent& e) {
    return Key{e.action, e.token_id.value_or(-1), e.owner, e.name, e.at, e.detail};
  };
  auto keys = [&](const std::vector<AuditEvent>& events) {
    std::vector<Key> out;
    for (const auto& e : events) out.push_back(key(e));
    return out;
  };
  std::vector<Key> want;  // newest first
  want.push_back({"create", 2, "alice", "single-2", 60, ""});
  for (int i = kC - 1; i >= 0; --i)
    want.push_back({"create", 1001 + i, "alice", "c-" + std::to_string(i), 50, ""});
  want.push_back({"revoke", 1, "alice", "single-1", 40, ""});
  std::vector<Key> bob;
  for (int i = 79; i >= 0; --i) bob.push_back({"create", 5001 + i, "bob", "b-" + std::to_string(i), 30, ""});
  for (int i = 69; i >= 0; --i) {
    want.push_back({"create", 101 + i, "alice", "a-" + std::to_string(i), 20,
                    (101 + i) % 4 == 0 ? "networks: 10.0.0.0/8" : ""});
  }
  want.push_back({"create", 1, "alice", "single-1", 10, ""});
  std::vector<Key> all(want.begin(), want.begin() + kC + 2);
  all.insert(all.end(), bob.begin(), bob.end());
  all.insert(all.end(), want.begin() + kC + 2, want.end());

  const auto alice = repo_->audit_list("alice", 100000);
  ASSERT_EQ(keys(alice), want);
  const auto everyone = repo_->audit_list(std::nullopt, 100000);
  ASSERT_EQ(keys(everyone), all);
  int unordered = 0;
  for (std::size_t i = 1; i < everyone.size(); ++i) unordered += everyone[i].seq >= everyone[i - 1].seq;
  EXPECT_EQ(unordered, 0);
  int wrong_scopes = 0;
  for (const auto& e : alice) {
    wrong_scopes += e.action == "create" && (e.old_scopes != "" || e.new_scopes != "device policy:read");
  }
  EXPECT_EQ(wrong_scopes, 0);

  std::vector<Key> created_since_20;
  for (const auto& k : want) {
    if (std::get<0>(k) == "create" && std::get<4>(k) >= 20) created_since_20.push_back(k);
  }
  auto prefix = [](const std::vector<Key>& v, std::size_t n) {
    return std::vector<Key>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size())));
  };
  int wrong = 0;
  for (std::int64_t limit : {1,   2,   3,   50,  255, 256, 257, 258, 512, 513, 600,
                             601, 602, 603, 671, 672, 673, 674, 751, 752, 753, 5000}) {
    const auto n = static_cast<std::size_t>(limit);
    wrong += keys(repo_->audit_list("alice", limit)) != prefix(want, n);
    wrong += keys(repo_->audit_list(std::nullopt, limit)) != prefix(all, n);
    wrong += keys(repo_->audit_actions("alice", "create", 20, limit)) != prefix(created_since_20, n);
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(keys(repo_->audit_actions("alice", "revoke", 0, 10)), std::vector<Key>{want[kC + 1]});
  EXPECT_TRUE(repo_->audit_actions("alice", "create", 61, 10).empty());
}

TEST_P(RepositoryBulk, ATakenNameInABulkInsertIsNameTakenAndLeavesTheStoreAsItWas) {
  repo_->tokens_insert(batch(0, 10, "alice", "old"), "alice", 1);
  const auto before = state("alice");
  auto records = batch(1000, kBatch, "alice", "dev");
  records[kBatch / 2].name = "old-7";  // live already
  try {
    repo_->tokens_insert(records, "alice", 2);
    FAIL() << "expected NameTaken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNameTaken);
    EXPECT_EQ(e.field, "name");
    EXPECT_EQ(std::string(e.what()), "a token named 'old-7' already exists");
  }
  EXPECT_EQ(state("alice"), before);
  EXPECT_FALSE(repo_->token_find(records.front().id));
  // The same batch without the clash goes in whole afterwards (nothing was left half done).
  records[kBatch / 2].name = "dev-new";
  repo_->tokens_insert(records, "alice", 3);
  EXPECT_EQ(state("alice").first, before.first + kBatch);
}

TEST_P(RepositoryBulk, ANameTwiceInABulkInsertIsNameTakenAndKeepsNothing) {
  auto records = batch(0, kBatch, "alice", "dev");
  records.back().name = records[3].name;
  try {
    repo_->tokens_insert(records, "alice", 1);
    FAIL() << "expected NameTaken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNameTaken);
    EXPECT_EQ(e.field, "name");
    EXPECT_EQ(std::string(e.what()), "a token named 'dev-3' already exists");
  }
  EXPECT_EQ(state("alice"), std::make_pair(std::size_t{0}, std::size_t{0}));
}

TEST_P(RepositoryBulk, ATakenIdInABulkInsertIsAStoreErrorAndKeepsNothing) {
  repo_->tokens_insert(batch(0, 1, "bob", "first"), "bob", 1);
  const auto before = state("alice");
  auto records = batch(100, kBatch, "alice", "dev");
  records.back().id = 1;  // bob's
  try {
    repo_->tokens_insert(records, "alice", 2);
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_EQ(e.field, "");
    const std::string message = e.what();
    const std::string tail = ": a constraint failed; nothing was created";
    ASSERT_GE(message.size(), tail.size());
    EXPECT_EQ(message.substr(message.size() - tail.size()), tail) << message;
  }
  EXPECT_EQ(state("alice"), before);
  EXPECT_EQ(repo_->token_find(1)->owner, "bob");
}

// Engine::create_many makes each record's secret as the store takes it
// (tokens_insert_completing): every record passes through `complete` once, in order, before
// the store reads it, and what completion wrote is what is stored.
TEST_P(RepositoryBulk, ABulkInsertCompletesEachRecordOnceInOrderBeforeStoringIt) {
  auto records = batch(100, kBatch, "alice", "dev");
  const auto want = records;
  for (auto& r : records) r.digest = {};  // unmade secrets
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  repo_->tokens_insert_completing(records, "alice", 1, [&](std::size_t begin, std::size_t end) {
    parts.emplace_back(begin, end);
    for (std::size_t i = begin; i < end; ++i) records[i].digest = want[i].digest;
  });
  ASSERT_FALSE(parts.empty());
  std::size_t next = 0;
  for (const auto& [begin, end] : parts) {
    EXPECT_EQ(begin, next);
    EXPECT_LT(begin, end);
    next = end;
  }
  EXPECT_EQ(next, records.size());
  // PostgreSQL sends the rows part by part as they are completed, so its server starts
  // inserting before the last secret is made.
  if (GetParam()->name == "postgres") {
    EXPECT_GT(parts.size(), 1u);
  }
  int wrong = 0;
  for (const auto& w : want) {
    auto got = repo_->token_find(w.id);
    if (!got || got->digest != w.digest) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
}

// A clash found while the rows stream: NameTaken, nothing kept, and the store's connection
// is fit for the next insert (the stream was ended, not abandoned midway).
TEST_P(RepositoryBulk, AClashFoundWhileCompletingLeavesTheStoreAsItWasAndUsable) {
  repo_->tokens_insert(batch(0, 10, "alice", "old"), "alice", 1);
  const auto before = state("alice");
  auto records = batch(1000, kBatch, "alice", "dev");
  records[kBatch - 1].name = "old-3";  // in the last part
  std::size_t completed = 0;
  const auto complete = [&](std::size_t begin, std::size_t end) { completed += end - begin; };
  try {
    repo_->tokens_insert_completing(records, "alice", 2, complete);
    FAIL() << "expected NameTaken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNameTaken);
    EXPECT_EQ(std::string(e.what()), "a token named 'old-3' already exists");
  }
  EXPECT_EQ(state("alice"), before);
  records[kBatch - 1].name = "dev-last";
  repo_->tokens_insert_completing(records, "alice", 3, complete);
  EXPECT_EQ(state("alice").first, before.first + kBatch);
}

TEST_P(RepositoryBulk, ABulkInsertAnnouncesNothing) {
  const Coherence before = repo_->coherence();
  repo_->tokens_insert(batch(0, kBatch, "alice", "dev"), "alice", 1);
  EXPECT_EQ(repo_->coherence().generation, before.generation);
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryBulk, ::testing::ValuesIn(testing::contract_backends()),
                         [](const ::testing::TestParamInfo<const Backend*>& info) {
                           return info.param->name;
                         });

}  // namespace
}  // namespace tokenkeep
