// The host's shared coherence state and the relay election (pg_host_relay.h), without a
// server: stores of one host share a feed and a deadline, exactly one of them is the relay,
// the kernel hands the lock on when the relay dies, and a forked child never keeps it.
#include "pg_host_relay.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

class PgHostRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tk-host-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  std::unique_ptr<PgHostState> open(const std::string& identity = "system 1\ndb\npublic") {
    return std::make_unique<PgHostState>(dir_, identity);
  }
  std::string dir_;
};

TEST_F(PgHostRelayTest, ExactlyOneStoreOfAHostIsTheRelayAndTheNextTakesOverWhenItCloses) {
  auto a = open(), b = open(), c = open();
  EXPECT_TRUE(a->relay_try());
  EXPECT_FALSE(b->relay_try());
  EXPECT_FALSE(c->relay_try());
  const std::string row = a->node();
  EXPECT_EQ(row.rfind("host-", 0), 0u) << row;
  EXPECT_EQ(b->node(), row);  // one row per host, whoever reads it
  a.reset();
  EXPECT_TRUE(b->relay_try());
  EXPECT_FALSE(c->relay_try());
  EXPECT_EQ(b->node(), row);  // the new relay renews the same row
  EXPECT_EQ(b->shared().relay_terms.load(), 2u);
  EXPECT_EQ(b->shared().relay_pid.load(), ::getpid());
}

TEST_F(PgHostRelayTest, StoresOfOneHostShareTheFeedTheDeadlineAndTheAppliedGeneration) {
  auto a = open(), b = open();
  const auto before = b->feed().state();
  a->feed().write_begin({42});
  a->feed().write_finish();
  a->shared().applied.store(7);
  a->shared().deadline_ns.store(123456789);
  const auto after = b->feed().state();
  EXPECT_EQ(after.finished, before.finished + 1);
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(b->feed().changes(before.finished, after.finished, &ids));
  EXPECT_EQ(ids, std::vector<std::int64_t>{42});
  EXPECT_EQ(b->shared().applied.load(), 7u);
  EXPECT_EQ(b->shared().deadline_ns.load(), 123456789);
}

TEST_F(PgHostRelayTest, DifferentDatabasesOrSchemasNeverShareTheFiles) {
  auto a = open("system 1\ndb\npublic");
  auto b = open("system 1\ndb\nother");
  auto c = open("system 2\ndb\npublic");
  EXPECT_NE(a->path(), b->path());
  EXPECT_NE(a->path(), c->path());
  EXPECT_TRUE(a->relay_try());
  EXPECT_TRUE(b->relay_try());
  EXPECT_TRUE(c->relay_try());
  a->shared().deadline_ns.store(99);
  EXPECT_EQ(b->shared().deadline_ns.load(), 0);
}

TEST_F(PgHostRelayTest, OnlyTheLastStoreOfTheHostClaimsIt) {
  auto a = open(), b = open();
  EXPECT_FALSE(a->last_user_claim());
  b.reset();
  EXPECT_TRUE(a->last_user_claim());
}

TEST_F(PgHostRelayTest, ARelayKilledWithSigkillReleasesTheLock) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto mine = open();
    const char ok = mine->relay_try() ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  auto a = open();
  EXPECT_FALSE(a->relay_try());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(a->relay_try());
  EXPECT_EQ(a->shared().relay_terms.load(), 2u);
  ::close(ready[0]);
  ::close(ready[1]);
}

// Without fork_child() the child's copy of the descriptor would keep the relay's flock after
// the parent closed, and no store could take over while the child lives.
TEST_F(PgHostRelayTest, AForkedChildDoesNotKeepItsParentsRelayLock) {
  auto a = open();
  ASSERT_TRUE(a->relay_try());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    a->fork_child();
    const char ok = '1';
    (void)!::write(ready[1], &ok, 1);
    for (;;) ::pause();
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  a.reset();  // the parent's store closes
  auto b = open();
  EXPECT_TRUE(b->relay_try());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(PgHostRelayTest, TheApplyLockExcludesOtherStoresAndTimesOut) {
  auto a = open(), b = open();
  ASSERT_TRUE(a->apply_lock(0));
  EXPECT_FALSE(b->apply_lock(20));
  a->apply_unlock();
  EXPECT_TRUE(b->apply_lock(0));
  b->apply_unlock();
}

TEST_F(PgHostRelayTest, ARuntimeFolderOthersCanWriteIsRefused) {
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  try {
    pg_runtime_dir(dir_);
    FAIL() << "a world-writable runtime folder was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("writable by group or others"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  EXPECT_EQ(pg_runtime_dir(dir_ + "/"), dir_);
  ASSERT_EQ(::symlink(dir_.c_str(), (dir_ + "/link").c_str()), 0);
  EXPECT_THROW(pg_runtime_dir(dir_ + "/link"), Error);
}

TEST_F(PgHostRelayTest, TheDefaultFolderIsMadePrivateUnderXdgRuntimeDir) {
  const char* old_env = std::getenv("TOKENKEEP_RUNTIME_DIR");
  const std::string saved = old_env ? old_env : "";
  ::unsetenv("TOKENKEEP_RUNTIME_DIR");
  ::setenv("XDG_RUNTIME_DIR", dir_.c_str(), 1);
  const std::string got = pg_runtime_dir("");
  ::unsetenv("XDG_RUNTIME_DIR");
  if (old_env) ::setenv("TOKENKEEP_RUNTIME_DIR", saved.c_str(), 1);
  EXPECT_EQ(got, dir_ + "/tokenkeep");
  struct stat st {};
  ASSERT_EQ(::lstat(got.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace tokenkeep
