// The warm start's read (SqliteStore::tokens_recent) takes the ids from the partial index of
// live tokens by last use (schema 8) newest first, then each row by its id, or, when they are
// a large share of the table, one scan in rowid order: never a sort. EXPLAIN QUERY PLAN of the
// very statements it prepares, so a plan cannot silently change.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sqlite_connection.h"
#include "test_util.h"
#include "tokenkeep/store.h"

namespace tokenkeep {
namespace {

using sqlite_detail::Connection;
using sqlite_detail::Statement;
using testing::TempDir;

std::vector<std::string> plan_of(const std::string& db, const char* sql) {
  Connection c(db, SqliteOptions{});
  Statement s(c, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str());
  std::vector<std::string> details;
  while (s.step("cannot explain")) details.push_back(s.text(3));
  return details;
}

int scans_or_sorts(const std::vector<std::string>& plan) {
  int n = 0;
  for (const auto& d : plan) {
    if (d.find("SCAN") != std::string::npos || d.find("B-TREE") != std::string::npos) ++n;
  }
  return n;
}

TEST(SqliteWarm, RecentIdsComeFromTheLastUseIndexAloneNewestFirstWithoutAScanOrASort) {
  TempDir dir;
  const std::string db = dir.file("w.db");
  store_open(db, StoreOptions{}).reset();  // creates schema kSchemaVersion
  const std::vector<std::string> plan = plan_of(db, RECENT_IDS);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_NE(plan[0].find("SEARCH tokens USING COVERING INDEX tokens_recent_use"), std::string::npos)
      << plan[0];
  EXPECT_EQ(scans_or_sorts(plan), 0);
}

TEST(SqliteWarm, EachRecentRowIsOneLookupByItsId) {
  TempDir dir;
  const std::string db = dir.file("w.db");
  store_open(db, StoreOptions{}).reset();
  const std::vector<std::string> plan = plan_of(db, RECENT_ROW);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_NE(plan[0].find("SEARCH tokens USING INTEGER PRIMARY KEY (rowid=?)"), std::string::npos) << plan[0];
  EXPECT_EQ(scans_or_sorts(plan), 0);
}

TEST(SqliteWarm, ALargeShareIsReadInOneScanInRowidOrder) {
  TempDir dir;
  const std::string db = dir.file("w.db");
  store_open(db, StoreOptions{}).reset();
  const std::vector<std::string> plan = plan_of(db, RECENT_SCAN);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], "SCAN tokens");
}

}  // namespace
}  // namespace tokenkeep
