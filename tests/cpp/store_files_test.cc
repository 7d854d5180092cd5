// The store's companion files (-tkfeed, .key, -wal, -shm) are never opened through a link
// (issue 19, item 1). The scenario: a service user owns the database's folder and plants a
// symlink (or a hard link) at a companion's name pointing to a root-owned 0640 file; root
// then opens the store beside the service's database (`sudo tokenkeep --db svc/tokens.db
// revoke ...`). The open must refuse, and the target keep its owner, size and content.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

using testing::TempDir;

constexpr char kTargetText[] = "root:only:config\n";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A service's store under `dir`/svc: made, closed, then (when the test runs as root, as it
// does in CI) handed to `nobody` with its folder. Returns the database path.
std::string service_store(const TempDir& dir) {
  const std::string svc = dir.file("svc");
  EXPECT_EQ(::mkdir(svc.c_str(), 0755), 0);
  const std::string db = svc + "/tokens.db";
  store_open(db, StoreOptions{}).reset();
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    EXPECT_NE(nobody, nullptr) << "the test needs the user nobody";
    if (nobody == nullptr) return db;
    for (const std::string& p : {svc, db, db + ".key", db + "-tkfeed", db + "-wal", db + "-shm"}) {
      (void)::lchown(p.c_str(), nobody->pw_uid, nobody->pw_gid);
    }
  }
  return db;
}

// The root-owned 0640 file the planted link points to, outside the service's folder.
std::string target_file(const TempDir& dir) {
  const std::string target = dir.file("root-config");
  std::ofstream(target) << kTargetText;
  EXPECT_EQ(::chmod(target.c_str(), 0640), 0);
  return target;
}

struct Seen {
  bool refused = false;
  std::string message;
};

Seen open_as_this_user(const std::string& db, bool read_only) {
  StoreOptions options;
  options.sqlite.read_only = read_only;
  Seen seen;
  try {
    store_open(db, options).reset();
  } catch (const Error& e) {
    seen.refused = true;
    seen.message = e.what();
  }
  return seen;
}

void expect_untouched(const std::string& target, uid_t uid, gid_t gid) {
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), sizeof kTargetText - 1);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(read_all(target), kTargetText);
}

class PlantedLink : public ::testing::TestWithParam<const char*> {};

TEST_P(PlantedLink, SymlinkAtACompanionNameIsRefusedAndItsTargetUntouched) {
  for (const bool read_only : {false, true}) {
    TempDir dir;
    const std::string db = service_store(dir);
    const std::string target = target_file(dir);
    const std::string planted = db + GetParam();
    ::unlink(planted.c_str());
    ASSERT_EQ(::symlink(target.c_str(), planted.c_str()), 0);
    const Seen seen = open_as_this_user(db, read_only);
    SCOPED_TRACE(std::string(GetParam()) + (read_only ? " read-only" : " writer"));
    // -wal and -shm: SQLite itself opens them with O_NOFOLLOW, and the store checks first.
    EXPECT_TRUE(seen.refused);
    EXPECT_NE(seen.message.find(planted + " is a symbolic link"), std::string::npos) << seen.message;
    expect_untouched(target, ::geteuid(), ::getegid());
    struct stat link {};
    ASSERT_EQ(::lstat(planted.c_str(), &link), 0);
    EXPECT_TRUE(S_ISLNK(link.st_mode));
  }
}

TEST_P(PlantedLink, HardLinkAtACompanionNameIsNotWrittenThrough) {
  TempDir dir;
  const std::string db = service_store(dir);
  const std::string target = target_file(dir);
  const std::string planted = db + GetParam();
  ::unlink(planted.c_str());
  ASSERT_EQ(::link(target.c_str(), planted.c_str()), 0);
  const Seen seen = open_as_this_user(db, false);
  // -wal and -shm: SQLite would write through it (and, as root, chown it): checked before.
  EXPECT_TRUE(seen.refused) << GetParam();
  EXPECT_NE(seen.message.find(planted + " has 2 hard links"), std::string::npos) << seen.message;
  expect_untouched(target, ::geteuid(), ::getegid());
}

INSTANTIATE_TEST_SUITE_P(Companions, PlantedLink, ::testing::Values("-tkfeed", ".key", "-wal", "-shm"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param + 1;
                           return name;
                         });

TEST(StoreFiles, ShortFeedNotCreatedHereIsRefusedNotGrown) {
  TempDir dir;
  const std::string db = service_store(dir);
  const std::string feed = db + "-tkfeed";
  ::unlink(feed.c_str());
  std::ofstream(feed) << "not a feed";
  ASSERT_EQ(::chmod(feed.c_str(), 0600), 0);
  const Seen seen = open_as_this_user(db, false);
  EXPECT_TRUE(seen.refused);
  EXPECT_NE(seen.message.find("is 10 bytes, not a change feed"), std::string::npos) << seen.message;
  EXPECT_EQ(read_all(feed), "not a feed");
}

TEST(StoreFiles, RootGivesTheFilesItCreatesToTheDatabasesOwnerAndNoOthers) {
  TempDir dir;
  const std::string db = service_store(dir);
  struct stat owner {};
  ASSERT_EQ(::stat(db.c_str(), &owner), 0);
  for (const char* suffix : {"-tkfeed", ".key"}) ::unlink((db + suffix).c_str());
  store_open(db, StoreOptions{}).reset();  // recreates both (as root when run as root)
  for (const char* suffix : {"-tkfeed", ".key"}) {
    struct stat st {};
    ASSERT_EQ(::stat((db + suffix).c_str(), &st), 0) << suffix;
    EXPECT_EQ(st.st_uid, owner.st_uid) << suffix;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << suffix;
  }
}

}  // namespace
}  // namespace tokenkeep
