// The warm start's read (SqliteStore::tokens_recent) takes its rows from the covering partial
// index of live tokens by last use (schema 9) newest first: never the table, never a sort.
// EXPLAIN QUERY PLAN of the very statement it prepares, so a plan cannot silently change.
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

TEST(SqliteWarm, RecentRowsComeFromTheCoveringIndexAloneNewestFirstWithoutAScanOrASort) {
  TempDir dir;
  const std::string db = dir.file("w.db");
  store_open(db, StoreOptions{}).reset();  // creates schema kSchemaVersion
  const std::vector<std::string> plan = plan_of(db, RECENT);
  ASSERT_EQ(plan.size(), 1u);
  // COVERING: no row of the table is read; SEARCH on last_used_at in index order: no sort.
  EXPECT_NE(plan[0].find("SEARCH tokens USING COVERING INDEX tokens_warm (last_used_at>?)"),
            std::string::npos)
      << plan[0];
  EXPECT_EQ(scans_or_sorts(plan), 0);
}

}  // namespace
}  // namespace tokenkeep
