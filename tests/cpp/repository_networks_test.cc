// The repository contract for network binding and recent clients (token_repository.h), on
// every backend of repository_contract_test.cc: SQLite (memory and file), the fake and
// PostgreSQL (TOKENKEEP_TEST_PG; fails without it). Then the engine on the fake: a bound
// token against its client, edits seen by another engine's next verify, clients recorded.
#include <gtest/gtest.h>

#include <algorithm>

#include "contract_backends.h"
#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

using testing::Backend;

TokenRecord record(std::int64_t id, const std::string& owner, const std::string& name) {
  TokenRecord r;
  r.id = id;
  r.owner = owner;
  r.name = name;
  r.scopes = {"device"};
  for (std::size_t i = 0; i < r.digest.size(); ++i)
    r.digest[i] = static_cast<unsigned char>(id + static_cast<std::int64_t>(i));
  r.pepper_id = "pepper1";
  r.created_at = 1;
  return r;
}

class RepositoryNetworks : public ::testing::TestWithParam<const Backend*> {
 protected:
  void SetUp() override {
    store_ = GetParam()->make_store();
    repo_ = store_->open();
  }
  std::unique_ptr<Backend::Store> store_;
  std::unique_ptr<TokenRepository> repo_;
};

TEST_P(RepositoryNetworks, NetworksAreStoredEditedAuditedAnnouncedAndKeptByRotate) {
  TokenRecord a = record(1, "alice", "a");
  a.networks = {"10.0.0.0/8", "2001:db8::/32"};
  repo_->tokens_insert({a, record(2, "alice", "b")}, "alice", 1);
  EXPECT_EQ(repo_->token_find(1)->networks, a.networks);
  EXPECT_TRUE(repo_->token_find(2)->networks.empty());
  auto created = repo_->audit_list(std::string("alice"), 2);
  ASSERT_EQ(created.size(), 2u);
  for (const auto& e : created) {
    EXPECT_EQ(e.action, "create");
    EXPECT_EQ(e.detail, e.token_id == 1 ? "networks: 10.0.0.0/8 2001:db8::/32" : "");
  }
  const Coherence before = repo_->coherence();
  ASSERT_TRUE(repo_->token_update_networks("alice", 2, {"192.0.2.0/24"}, "admin", 2));
  EXPECT_GT(repo_->coherence().generation, before.generation);  // verification decides on them
  std::vector<std::int64_t> changed;
  ASSERT_TRUE(repo_->changes_since(before.generation, repo_->coherence().generation, &changed));
  EXPECT_NE(std::find(changed.begin(), changed.end(), 2), changed.end());
  EXPECT_EQ(repo_->token_find_owned("alice", 2)->networks, std::vector<std::string>{"192.0.2.0/24"});
  EXPECT_FALSE(repo_->token_update_networks("bob", 2, {}, "bob", 3));  // another owner's
  EXPECT_EQ(repo_->token_find(2)->networks, std::vector<std::string>{"192.0.2.0/24"});
  auto audit = repo_->audit_list(std::string("alice"), 1);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "update_networks");
  EXPECT_EQ(audit[0].actor, "admin");
  EXPECT_EQ(audit[0].token_id, 2);
  EXPECT_EQ(audit[0].detail, "any -> 192.0.2.0/24");
  ASSERT_TRUE(repo_->token_update_networks("alice", 2, {}, "alice", 4));
  EXPECT_EQ(repo_->audit_list(std::string("alice"), 1)[0].detail, "192.0.2.0/24 -> any");
  EXPECT_TRUE(repo_->token_find(2)->networks.empty());
  TokenQuery live;
  live.owner = "alice";
  live.state = TokenQuery::State::kLive;
  live.limit = TokenQuery::kNoLimit;
  for (const auto& r : repo_->tokens_query(live, 5).records) {
    EXPECT_EQ(r.networks.size(), r.id == 1 ? 2u : 0u);
  }
  ASSERT_TRUE(repo_->token_rotate("alice", 1, record(3, "alice", "ignored"), "alice", 5));
  EXPECT_EQ(repo_->token_find(3)->networks, a.networks);                   // kept, like the scopes
  EXPECT_FALSE(repo_->token_update_networks("alice", 1, {}, "alice", 6));  // revoked
}

TEST_P(RepositoryNetworks, ClientsKeepTheNewestPerTokenAreNotAnnouncedAndGoWithPurge) {
  repo_->tokens_insert({record(1, "alice", "a"), record(2, "alice", "b")}, "x", 1);
  const Coherence before = repo_->coherence();
  std::vector<ClientUse> uses;
  for (int i = 0; i < 14; ++i) uses.push_back({1, "10.0.0." + std::to_string(i), 100 + i});
  uses.push_back({1, "10.0.0.3", 50});  // older than the 103 in the same batch
  uses.push_back({2, "2001:db8::1", 70});
  uses.push_back({99, "192.0.2.1", 10});  // no such token: dropped
  repo_->clients_touch(uses);
  repo_->clients_touch({{2, "2001:db8::1", 60}});  // older than stored: kept at 70
  EXPECT_EQ(repo_->coherence(), before);
  auto text = [](const std::vector<ClientUse>& v) {
    std::vector<std::string> out;
    for (const auto& c : v)
      out.push_back(std::to_string(c.id) + " " + c.address + " " + std::to_string(c.at));
    return out;
  };
  const auto first = repo_->clients_recent(1, 100);
  ASSERT_EQ(first.size(), static_cast<std::size_t>(TokenRepository::kClientsKept));  // the newest 10
  EXPECT_EQ(text(first).front(), "1 10.0.0.13 113");
  EXPECT_EQ(text(first).back(), "1 10.0.0.4 104");
  EXPECT_EQ(text(repo_->clients_recent(1, 2)),
            (std::vector<std::string>{"1 10.0.0.13 113", "1 10.0.0.12 112"}));
  EXPECT_EQ(text(repo_->clients_recent(2, 10)), std::vector<std::string>{"2 2001:db8::1 70"});
  EXPECT_TRUE(repo_->clients_recent(99, 10).empty());
  repo_->clients_touch({{1, "10.0.0.0", 500}});  // an old address used again comes back first
  EXPECT_EQ(text(repo_->clients_recent(1, 1)), std::vector<std::string>{"1 10.0.0.0 500"});
  EXPECT_EQ(repo_->clients_recent(1, 100).size(), static_cast<std::size_t>(TokenRepository::kClientsKept));
  ASSERT_TRUE(repo_->tokens_revoke("alice", {2}, "alice", 200));
  EXPECT_EQ(repo_->tokens_purge(300, "system", 300), 1);
  EXPECT_TRUE(repo_->clients_recent(2, 10).empty());  // purged with its token
  EXPECT_EQ(repo_->clients_recent(1, 100).size(), static_cast<std::size_t>(TokenRepository::kClientsKept));
}

// The page's batch: each id's rows as clients_recent gives them (newest `limit` each), the ids
// without rows or without a token left out, in any order.
TEST_P(RepositoryNetworks, ClientsRecentManyIsClientsRecentOfEachId) {
  repo_->tokens_insert({record(1, "alice", "a"), record(2, "alice", "b"), record(3, "bob", "c")}, "x", 1);
  std::vector<ClientUse> uses;
  for (int i = 0; i < 6; ++i) uses.push_back({1, "10.0.0." + std::to_string(i), 100 + i});
  uses.push_back({3, "2001:db8::1", 70});
  repo_->clients_touch(uses);
  auto key = [](std::vector<ClientUse> v) {
    std::vector<std::string> out;
    for (const auto& c : v)
      out.push_back(std::to_string(c.id) + " " + c.address + " " + std::to_string(c.at));
    std::sort(out.begin(), out.end());
    return out;
  };
  for (const std::int64_t limit : {std::int64_t{3}, std::int64_t{10}}) {
    std::vector<ClientUse> each;
    for (const std::int64_t id : {1, 2, 3, 99}) {
      const auto rows = repo_->clients_recent(id, limit);
      each.insert(each.end(), rows.begin(), rows.end());
    }
    EXPECT_EQ(key(repo_->clients_recent_many({1, 2, 3, 99}, limit)), key(each)) << limit;
  }
  EXPECT_TRUE(repo_->clients_recent_many({}, 10).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, RepositoryNetworks, ::testing::ValuesIn(testing::contract_backends()),
                         [](const ::testing::TestParamInfo<const Backend*>& info) {
                           return info.param->name;
                         });

// --- The engine on the fake ---------------------------------------------------------------------

std::unique_ptr<Engine> engine_on(std::unique_ptr<TokenRepository> repo) {
  return std::make_unique<Engine>(std::move(repo), PepperSet(Pepper::from_hex(std::string(64, 'a'))),
                                  std::make_shared<SystemClock>(), EngineOptions{});
}

TEST(EngineNetworks, ABoundTokenVerifiesOnlyFromInsideAndAnEditIsSeenByAnotherEngine) {
  auto fake = std::make_shared<testing::FakeRepository>();
  auto reader = engine_on(std::make_unique<testing::FakeHandle>(fake));
  auto writer = engine_on(std::make_unique<testing::FakeHandle>(fake));
  NewToken spec{"ci", {"device"}, {}};
  spec.networks = {"10.0.0.0/8"};
  auto t = writer->create("alice", spec, "");
  const IpAddress inside = *ip_address_parse("10.1.2.3"), mapped = *ip_address_parse("::ffff:10.1.2.3");
  const IpAddress outside = *ip_address_parse("192.0.2.1");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, &inside), VerifyStatus::kOk);
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, &mapped), VerifyStatus::kOk);
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, &outside), VerifyStatus::kNetworkNotAllowed);
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, nullptr), VerifyStatus::kNetworkNotAllowed);
  // Outside, nothing else is told: not the scopes a check lacks.
  EXPECT_EQ(reader->verify(t.token.view(), reader->required_mask({"policy"}), nullptr, &outside),
            VerifyStatus::kNetworkNotAllowed);
  const std::string id = token_id_format(t.record.id);
  writer->update_networks("alice", id, {"192.0.2.0/24"}, "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, &inside), VerifyStatus::kNetworkNotAllowed);
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, &outside), VerifyStatus::kOk);
  writer->update_networks("alice", id, {}, "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr, nullptr), VerifyStatus::kOk);
  const Error e = reader->verify_error(VerifyStatus::kNetworkNotAllowed, 0, nullptr);
  EXPECT_EQ(e.code(), ErrorCode::kNetworkNotAllowed);
  EXPECT_EQ(e.field, "client");
}

TEST(EngineNetworks, BadNetworksAreInvalidArgumentAndChangeNothing) {
  auto fake = std::make_shared<testing::FakeRepository>();
  auto engine = engine_on(std::make_unique<testing::FakeHandle>(fake));
  NewToken spec{"ci", {"device"}, {}};
  spec.networks = {"10.0.0.1/8"};
  try {
    engine->create("alice", spec, "");
    ADD_FAILURE() << "created";
  } catch (const Error& e) {
    EXPECT_EQ(e.field, "networks");
  }
  EXPECT_TRUE(engine->list("alice").empty());
  spec.networks = {"10.0.0.0/8"};
  auto t = engine->create("alice", spec, "");
  const auto audit_before = engine->audit(std::string("alice"), 100).size();
  EXPECT_THROW(engine->update_networks("alice", token_id_format(t.record.id), {"10.0.0.0/8", "nope"}, ""),
               Error);
  EXPECT_EQ(engine->get("alice", token_id_format(t.record.id)).networks,
            std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(engine->audit(std::string("alice"), 100).size(), audit_before);
  const auto problems = engine->create_problems("alice", NewToken{"x", {"device"}, {}, "", {"300.0.0.0/8"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "networks");
}

TEST(EngineNetworks, RecentClientsAreDistinctNewestFirstInMemoryThenPersisted) {
  auto fake = std::make_shared<testing::FakeRepository>();
  auto engine = engine_on(std::make_unique<testing::FakeHandle>(fake));
  auto t = engine->create("alice", {"ci", {"device"}, {}}, "");
  const std::string id = token_id_format(t.record.id);
  for (const char* a : {"10.0.0.1", "10.0.0.2", "10.0.0.1", "2001:db8::1", "10.0.0.3", "10.0.0.4", "10.0.0.5",
                        "::ffff:10.0.0.5"}) {
    const IpAddress addr = *ip_address_parse(a);
    ASSERT_EQ(engine->verify(t.token.view(), 0, nullptr, &addr), VerifyStatus::kOk);
  }
  ASSERT_EQ(engine->verify(t.token.view(), 0, nullptr, nullptr), VerifyStatus::kOk);  // records none
  auto addresses = [](const std::vector<ClientUse>& v) {
    std::vector<std::string> out;
    for (const auto& c : v) out.push_back(c.address);
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<std::string> want{"10.0.0.1", "10.0.0.2", "10.0.0.3",
                                      "10.0.0.4", "10.0.0.5", "2001:db8::1"};
  EXPECT_EQ(addresses(engine->recent_clients("alice", id)), want);  // before any flush
  EXPECT_TRUE(fake->clients_recent(t.record.id, 10).empty());
  engine->uses_flush();
  EXPECT_EQ(addresses(fake->clients_recent(t.record.id, 10)), want);
  const auto recent = engine->recent_clients("alice", id);
  for (std::size_t i = 1; i < recent.size(); ++i) EXPECT_GE(recent[i - 1].at, recent[i].at);
  EXPECT_THROW(engine->recent_clients("bob", id), Error);  // another owner's: NotFound
}

}  // namespace
}  // namespace tokenkeep
