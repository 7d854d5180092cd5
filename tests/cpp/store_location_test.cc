#include "tokenkeep/store_location.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "test_util.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

using Kind = StoreLocation::Kind;

std::string real(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  std::string out = r ? r : "";
  std::free(r);
  return out;
}

// The InvalidArgument a refused spelling raises (its field must be "path").
std::string refusal(const std::string& spec) {
  try {
    store_location_resolve(spec);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << spec;
    EXPECT_EQ(e.field, "path") << spec;
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << spec;
  return "";
}

// Runs `f` with the working directory set to `dir`.
void in_dir(const std::string& dir, const std::function<void()>& f) {
  char* old = ::getcwd(nullptr, 0);
  ASSERT_EQ(::chdir(dir.c_str()), 0);
  f();
  ASSERT_EQ(::chdir(old), 0);
  std::free(old);
}

TEST(StoreLocation, MemorySpellings) {
  for (const char* spec : {"", ":memory:", "file::memory:"}) {
    const StoreLocation loc = store_location_resolve(spec);
    EXPECT_EQ(loc.kind, Kind::kMemory) << spec;
    EXPECT_TRUE(loc.database.empty() && loc.key_file.empty() && loc.feed_file.empty()) << spec;
  }
}

TEST(StoreLocation, PostgresUrlsAndConninfoAreUrls) {
  for (const char* spec : {"postgresql://u:pw@db.example/tokens", "postgres:///tokens", "host=/tmp dbname=x",
                           "  dbname = tokens user=svc"}) {
    const StoreLocation loc = store_location_resolve(spec);
    EXPECT_EQ(loc.kind, Kind::kUrl) << spec;
    EXPECT_EQ(loc.url, spec);
    EXPECT_TRUE(loc.database.empty()) << spec;
  }
  testing::TempDir dir;
  in_dir(dir.path(), [&] {  // a file named like a keyword is spelled with ./
    EXPECT_EQ(store_location_resolve("./host=x").database, real(dir.path()) + "/host=x");
  });
}

TEST(StoreLocation, EverySpellingOfOneFileIsOneLocation) {
  testing::TempDir dir;
  const std::string base = real(dir.path());
  ASSERT_EQ(::mkdir(dir.file("real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink("real", dir.file("link").c_str()), 0);
  const std::string want = base + "/real/t.db";
  auto check = [&](const std::string& spec) {
    const StoreLocation loc = store_location_resolve(spec);
    EXPECT_EQ(loc.kind, Kind::kFile) << spec;
    EXPECT_EQ(loc.database, want) << spec;
    EXPECT_EQ(loc.key_file, want + ".key") << spec;
    EXPECT_EQ(loc.feed_file, want + "-tkfeed") << spec;
  };
  // Before the file exists: the folder's symlink is resolved.
  for (const std::string& spec :
       {base + "/real/t.db", dir.path() + "/link/t.db", dir.path() + "/link/./t.db",
        "file:" + dir.path() + "/link/t.db", "file://" + base + "/real/t.db",
        "file://localhost" + base + "/real/t.db", "file:" + base + "/real/t%2Edb"}) {
    check(spec);
  }
  in_dir(dir.path(), [&] {
    for (const char* spec :
         {"real/t.db", "link/t.db", "./real/../real/t.db", "file:real/t.db", "file:link/t.db"}) {
      check(spec);
    }
  });
  // Once it exists, a symlink to the file itself resolves too.
  auto engine = store_open(base + "/real/t.db", StoreOptions{});
  ASSERT_EQ(::symlink("real/t.db", dir.file("t-link.db").c_str()), 0);
  check(dir.file("t-link.db"));
  check("file:" + dir.file("t-link.db"));
}

TEST(StoreLocation, MissingFoldersAreAppendedAsWritten) {
  testing::TempDir dir;
  EXPECT_EQ(store_location_resolve(dir.file("a/b/t.db")).database, real(dir.path()) + "/a/b/t.db");
  refusal(dir.file("a/../t.db"));
}

TEST(StoreLocation, RefusedSpellingsAreInvalidArgumentsAboutThePath) {
  testing::TempDir dir;
  EXPECT_NE(refusal("file:" + dir.file("t.db") + "?mode=ro").find("not supported"), std::string::npos);
  refusal("file:" + dir.file("t.db") + "?immutable=1");
  refusal("file:" + dir.file("t.db") + "#frag");
  refusal("file://otherhost" + dir.file("t.db"));
  refusal("file:");
  refusal("file:" + dir.file("t%zz.db"));
  refusal("file:" + dir.file("t%00.db"));
  EXPECT_THROW(store_location_resolve(dir.path()), Error);  // a StoreError: see below
  refusal(dir.file("sub/"));
  refusal(std::string("t\0.db", 4));
}

TEST(StoreLocation, DanglingSymlinkIsRefusedAndItsTargetNotCreated) {
  testing::TempDir dir;
  ASSERT_EQ(::symlink(dir.file("target.db").c_str(), dir.file("t.db").c_str()), 0);
  EXPECT_NE(refusal(dir.file("t.db")).find("symlink to a missing file"), std::string::npos);
  try {
    store_open(dir.file("t.db"), StoreOptions{});
    ADD_FAILURE() << "opened through a dangling symlink";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(dir.file("t.db")), std::string::npos);
  }
  struct stat st {};
  EXPECT_NE(::stat(dir.file("target.db").c_str(), &st), 0);
}

TEST(StoreLocation, AnExistingFolderIsAStoreError) {
  testing::TempDir dir;
  try {
    store_location_resolve(dir.path());
    ADD_FAILURE() << "accepted a folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("folder"), std::string::npos);
  }
}

TEST(StoreLocation, AnUnreachablePostgresStoreIsAClearStoreErrorThatHidesThePassword) {
  StoreOptions o;
  o.pepper_hex = std::string(64, 'a');
  try {
    store_open("postgresql://svc:hunter2@/tokens?host=/nonexistent", o);
    ADD_FAILURE() << "opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStoreError);
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL database 'tokens'"), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
}

TEST(StoreLocation, FileUriAndPathShareKeyFeedAndRevocation) {
  ::unsetenv("TOKENKEEP_PEPPER");
  testing::TempDir dir;
  auto by_path = store_open(dir.file("t.db"), StoreOptions{});
  auto by_uri = store_open("file:" + dir.file("t.db"), StoreOptions{});
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("t.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto t = by_path->create("alice", NewToken{"ci", {"device"}, {}}, "");
  ASSERT_EQ(by_path->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);
  ASSERT_EQ(by_uri->verify(t.token.view(), 0, nullptr), VerifyStatus::kOk);  // same key file
  by_uri->revoke("alice", token_id_format(t.record.id), "");
  EXPECT_EQ(by_path->verify(t.token.view(), 0, nullptr), VerifyStatus::kRevoked);  // same feed
  EXPECT_NE(::stat((dir.path() + "/file:" + dir.path()).c_str(), &st), 0);
}

}  // namespace
}  // namespace tokenkeep
