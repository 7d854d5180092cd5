// The verification cache against changes made through another Engine on the same database
// (another process's view), including a writer that dies between announcing and publishing.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "change_feed.h"
#include "test_util.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

class CoherenceTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> open(std::size_t cache_capacity = 1000) {
    StoreOptions o;
    o.pepper_hex = std::string(64, 'a');
    o.engine.cache_capacity = cache_capacity;
    return store_open(db, o);
  }
  testing::TempDir dir;
  std::string db = dir.file("tokens.db");
};

TEST_F(CoherenceTest, RevokeElsewhereIsSeenByTheNextVerify) {
  auto reader = open();
  auto writer = open();
  auto t = writer->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);  // now a cache hit
  EXPECT_EQ(reader->cache_size(), 1u);
  writer->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
}

TEST_F(CoherenceTest, ScopeEditElsewhereIsSeenByTheNextVerify) {
  auto reader = open();
  auto writer = open();
  auto t = writer->create("alice", {"ci", {"device"}, {}}, "");
  const ScopeMask write = reader->required_mask({"device:write"});
  ASSERT_EQ(reader->verify(t.token.view(), write, nullptr), VerifyStatus::kOk);
  writer->update_scopes("alice", token_id_format(t.record.id), {"device:read"}, "");
  EXPECT_EQ(reader->verify(t.token.view(), write, nullptr), VerifyStatus::kInsufficientScope);
  writer->update_scopes("alice", token_id_format(t.record.id), {"device"}, "");
  EXPECT_EQ(reader->verify(t.token.view(), write, nullptr), VerifyStatus::kOk);
}

TEST_F(CoherenceTest, RotateAndPurgeElsewhereAreSeen) {
  auto reader = open();
  auto writer = open();
  auto t = writer->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  auto r = writer->rotate("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
  EXPECT_EQ(reader->verify(r.token.view(), 0, nullptr), VerifyStatus::kOk);
  writer->purge(0, "");  // the revoked one is gone: now simply unknown
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kInvalid);
  EXPECT_EQ(reader->verify(r.token.view(), 0, nullptr), VerifyStatus::kOk);
}

TEST_F(CoherenceTest, ManyChangesAtOnceDropTheWholeCache) {
  auto reader = open();
  auto writer = open();
  std::vector<IssuedToken> tokens;
  std::vector<NewToken> specs;
  for (int i = 0; i < 2000; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  tokens = writer->create_many("alice", specs, "");
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(reader->verify(tokens[i].token.view(), 0, nullptr), VerifyStatus::kOk);
  std::vector<std::string> ids;
  for (const auto& t : tokens) ids.push_back(token_id_format(t.record.id));
  writer->revoke_many("alice", ids, "");  // more ids than the ring takes at once
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(reader->verify(tokens[i].token.view(), 0, nullptr), VerifyStatus::kRevoked);
}

TEST_F(CoherenceTest, WriterDyingBetweenAnnounceAndPublishNeverServesStaleData) {
  auto reader = open();
  auto writer = open();
  auto t = writer->create("alice", {"ci", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  // A "dead writer": announces a change and never publishes it.
  auto dead = change_feed_open(store_location_resolve(db), false);
  dead->write_begin({t.record.id});
  EXPECT_FALSE(dead->state().stable());
  // The database changes (as if the dead writer had committed).
  writer->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);
  // The feed is repaired by a writer holding the lock; afterwards caching resumes.
  EXPECT_TRUE(dead->state().stable());
  dead->write_begin({12345});  // dies again, and no writer comes along
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);  // bypass; notices
  EXPECT_FALSE(dead->state().stable());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);  // still unstable: repairs
  EXPECT_TRUE(dead->state().stable());
  EXPECT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);  // cached again
}

TEST_F(CoherenceTest, TokenCreatedElsewhereVerifiesAtOnce) {
  auto reader = open();
  auto writer = open();
  auto a = writer->create("alice", {"a", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(a.token.view(), 0, nullptr), VerifyStatus::kOk);  // reader's snapshot is open now
  auto b = writer->create("alice", {"b", {"device"}, {}}, "");               // not announced
  EXPECT_EQ(reader->verify(b.token.view(), 0, nullptr), VerifyStatus::kOk);
  auto r = writer->rotate("alice", token_id_format(b.record.id), "");
  EXPECT_EQ(reader->verify(r.token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(reader->verify(b.token.view(), 0, nullptr), VerifyStatus::kRevoked);
}

TEST_F(CoherenceTest, BulkCreateElsewhereKeepsOtherCachesWarm) {
  auto reader = open();
  auto writer = open();
  auto a = writer->create("alice", {"a", {"device"}, {}}, "");
  ASSERT_EQ(reader->verify(a.token.view(), 0, nullptr), VerifyStatus::kOk);
  std::vector<NewToken> specs;
  for (int i = 0; i < 3000; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  writer->create_many("alice", specs, "");
  ASSERT_EQ(reader->verify(a.token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_EQ(reader->cache_size(), 1u);  // still cached: creates invalidate nothing
}

TEST_F(CoherenceTest, CacheIsBounded) {
  auto reader = open(64);
  auto writer = open();
  std::vector<NewToken> specs;
  for (int i = 0; i < 500; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto tokens = writer->create_many("alice", specs, "");
  for (const auto& t : tokens) ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  EXPECT_LE(reader->cache_size(), 64u + 16u);
  for (const auto& t : tokens) ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
}

TEST_F(CoherenceTest, ConcurrentVerifiesAndWritesStayCorrect) {
  auto engine = open();
  auto writer = open();
  std::vector<NewToken> specs;
  for (int i = 0; i < 50; ++i) specs.push_back({"t" + std::to_string(i), {"device"}, {}});
  auto tokens = writer->create_many("alice", specs, "");
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int n = 0; !stop; ++n) {
        const auto& t = tokens[(n * 7 + k) % tokens.size()];
        const VerifyStatus s = engine->verify(t.token.view(), 0, nullptr);
        if (s != VerifyStatus::kOk && s != VerifyStatus::kRevoked) ++wrong;
      }
    });
  }
  // Revoke half of them while the threads run; afterwards each must be revoked everywhere.
  for (int i = 0; i < 25; ++i) writer->revoke("alice", token_id_format(tokens[i].record.id), "");
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(engine->verify(tokens[i].token.view(), 0, nullptr),
              i < 25 ? VerifyStatus::kRevoked : VerifyStatus::kOk);
  }
}

}  // namespace
}  // namespace tokenkeep
