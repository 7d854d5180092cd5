// The engine on the in-memory fake repository: its cache follows the neutral coherence
// contract alone (no SQLite, no shared-memory feed).
#include <gtest/gtest.h>

#include <atomic>

#include "contract_backends.h"
#include "tokenkeep/engine.h"

namespace tokenkeep {
namespace {

std::unique_ptr<Engine> engine_on(std::unique_ptr<TokenRepository> repo) {
  return std::make_unique<Engine>(std::move(repo), PepperSet(Pepper::from_hex(std::string(64, 'a'))),
                                  std::make_shared<SystemClock>(), EngineOptions{});
}

TEST(EngineOnFake, AChangeByAnotherEngineIsSeenByTheNextVerify) {
  auto fake = std::make_shared<testing::FakeRepository>();
  auto reader = engine_on(std::make_unique<testing::FakeHandle>(fake));
  auto writer = engine_on(std::make_unique<testing::FakeHandle>(fake));
  auto t = writer->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  ASSERT_EQ(reader->cache_size(), 1u);
  writer->update_scopes("alice", token_id_format(t.record.id), {"device:read"}, "");
  EXPECT_EQ(reader->verify(t.token.view(), reader->required_mask({"device:write"}), nullptr),
            VerifyStatus::kInsufficientScope);
  writer->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
}

TEST(EngineOnFake, AnUnstableRepositoryIsNeverAnsweredFromTheCache) {
  auto fake = std::make_shared<testing::FakeRepository>();
  auto engine = engine_on(std::make_unique<testing::FakeHandle>(fake));
  auto t = engine->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(engine->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  fake->set_unstable();
  CachedTokenPtr out;
  EXPECT_FALSE(engine->verify_cached(t.token.view(), 0, &out));  // must read the store
  EXPECT_EQ(engine->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
}

// A repository whose link dies the moment a change has committed: every read after it fails.
class CutAfterChange : public testing::FakeRepository {
 public:
  bool token_update_scopes(const std::string& o, std::int64_t id, const std::vector<std::string>& s,
                           const std::string& a, std::int64_t at) override {
    return cut(FakeRepository::token_update_scopes(o, id, s, a, at));
  }
  bool token_update_description(const std::string& o, std::int64_t id, const std::string& d,
                                const std::string& a, std::int64_t at) override {
    return cut(FakeRepository::token_update_description(o, id, d, a, at));
  }
  bool token_update_networks(const std::string& o, std::int64_t id, const std::vector<std::string>& n,
                             const std::string& a, std::int64_t at) override {
    return cut(FakeRepository::token_update_networks(o, id, n, a, at));
  }
  std::optional<TokenRecord> token_find_owned(const std::string& o, std::int64_t id) override {
    if (cut_) fail(ErrorCode::kStoreError, "cannot read tokens from " + kWhere + ": the link is down");
    return FakeRepository::token_find_owned(o, id);
  }
  void heal() { cut_ = false; }
  void cut_now() { cut_ = true; }

 private:
  bool cut(bool done) {
    cut_ = true;
    return done;
  }
  std::atomic<bool> cut_{false};
};

// An edit returns the record as it committed it, without reading it back: a link that dies
// right after the commit cannot turn a change that was made into a StoreError (nor add a
// second wait on the dead link: the fault harness's writer once took 6.1 s, a 3 s wait for
// the acknowledgements and a 3 s connect for the read-back, where 5 s is the bound).
TEST(EngineOnFake, AnEditReturnsWhatItCommittedWithoutReadingItBack) {
  auto fake = std::make_shared<CutAfterChange>();
  auto engine = engine_on(std::make_unique<testing::FakeHandle>(fake));
  NewToken spec{"ci", {"device"}, {}};
  spec.description = "nightly";
  const auto t = engine->create("alice", spec, "");
  const std::string id = token_id_format(t.record.id);

  const TokenRecord scoped = engine->update_scopes("alice", id, {"policy", "device:read"}, "");
  EXPECT_EQ(scoped.scopes, (std::vector<std::string>{"device:read", "policy"}));
  EXPECT_EQ(scoped.description, "nightly");
  fake->heal();
  const TokenRecord described = engine->update_description("alice", id, "  weekly ", "");
  EXPECT_EQ(described.description, "weekly");
  EXPECT_EQ(described.scopes, scoped.scopes);
  fake->heal();
  const TokenRecord bound = engine->update_networks("alice", id, {"10.0.0.0/8"}, "");
  EXPECT_EQ(bound.networks, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(bound.description, "weekly");
  fake->heal();
  // What each returned is what is stored.
  const TokenRecord stored = engine->get("alice", id);
  EXPECT_EQ(stored.scopes, bound.scopes);
  EXPECT_EQ(stored.description, bound.description);
  EXPECT_EQ(stored.networks, bound.networks);
  EXPECT_EQ(stored.name, bound.name);
  EXPECT_EQ(stored.expires_at, bound.expires_at);

  // A link already down: the edit fails before it changes anything, and says so.
  fake->cut_now();
  try {
    engine->update_scopes("alice", id, {"device"}, "");
    ADD_FAILURE() << "an edit over a dead link returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("the link is down; nothing was changed"), std::string::npos)
        << e.what();
  }
  fake->heal();
  EXPECT_EQ(engine->get("alice", id).scopes, bound.scopes);
}

// A store that inserted records without having them completed would hold tokens whose
// digests match no secret: create_many refuses to hand such tokens out.
class InsertsUncompleted : public testing::FakeRepository {
 public:
  void tokens_insert_completing(const std::vector<TokenRecord>& records, const std::string& actor,
                                std::int64_t at, const RecordsComplete&) override {
    tokens_insert(records, actor, at);
  }
};

TEST(EngineOnFake, CreateManyFailsIfTheStoreDidNotLetItMakeEverySecret) {
  auto engine = engine_on(std::make_unique<InsertsUncompleted>());
  try {
    engine->create_many("alice", {{"a", {"device"}, {}}, {"b", {"device"}, {}}}, "");
    FAIL() << "expected StoreError";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
  }
  // The default insert makes every secret first: tokens from it verify.
  auto ok = engine_on(std::make_unique<testing::FakeRepository>());
  const auto issued = ok->create_many("alice", {{"a", {"device"}, {}}, {"b", {"device"}, {}}}, "");
  ASSERT_EQ(issued.size(), 2u);
  for (const auto& t : issued) EXPECT_EQ(ok->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
}

}  // namespace
}  // namespace tokenkeep
