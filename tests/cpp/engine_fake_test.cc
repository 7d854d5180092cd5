// The engine on the in-memory fake repository: its cache follows the neutral coherence
// contract alone (no SQLite, no shared-memory feed).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tokenkeep
