// Issue 10 item 7: a writer killed between announcing and publishing left the feed unstable,
// so read-only stores (which cannot take the write lock to repair it) bypassed their caches
// until a writer came. The writer lock on the feed file lets them recover alone.
#include "change_feed.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

TEST(ChangeFeed, ReaderSettlesTheGenerationsOfAWriterThatDied) {
  testing::TempDir dir;
  const StoreLocation loc = store_location_resolve(dir.file("t.db"));
  auto writer = change_feed_open(loc, false);
  auto reader = change_feed_open(loc, true);
  writer->write_begin({42});
  EXPECT_FALSE(reader->state().stable());  // a live writer holds the lock: in flight
  writer.reset();                          // dies without publishing (its fd, and lock, go)
  const ChangeFeed::State st = reader->state();
  EXPECT_TRUE(st.stable());
  std::vector<std::int64_t> ids;
  EXPECT_TRUE(reader->changes(0, st.started, &ids));
  EXPECT_EQ(ids, std::vector<std::int64_t>{42});  // the reader still drops what was announced
  // A new writer repairs the file and publishes normally.
  auto next = change_feed_open(loc, false);
  next->write_begin({7});
  EXPECT_FALSE(reader->state().stable());
  next->write_finish();
  EXPECT_TRUE(reader->state().stable());
  EXPECT_EQ(reader->state().started, st.started + 1);
}

TEST(ChangeFeed, ReadOnlyStoreKeepsCachingAfterAWriterDied) {
  testing::TempDir dir;
  StoreOptions o;
  o.pepper_hex = std::string(64, 'a');
  auto engine = store_open(dir.file("t.db"), o);
  auto t = engine->create("alice", NewToken{"ci", {"device"}, {}}, "");
  StoreOptions ro = o;
  ro.sqlite.read_only = true;
  auto reader = store_open(dir.file("t.db"), ro);
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  {
    auto dead = change_feed_open(store_location_resolve(dir.file("t.db")), false);
    dead->write_begin({12345});
  }                // killed between announce and publish
  engine.reset();  // and no writer is left
  ASSERT_EQ(reader->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  // Served from the cache: verify_cached answers without the database.
  EXPECT_EQ(reader->verify_cached(t.token.view(), 0, nullptr),
            std::optional<VerifyStatus>(VerifyStatus::kOk));
}

}  // namespace
}  // namespace tokenkeep
