// The storage seam. Token logic (engine.h) talks only to this interface; an implementation
// (sqlite_store.h today, PostgreSQL later) owns the query language, transactions and
// durability. Every mutating call is atomic, durable once it returns, and records its
// AuditEvent in the same transaction. Every call that changes what a verification would
// decide about an existing token announces its ids on the change feed (change_feed.h) while
// it holds the write lock, and publishes them after its commit, before it returns. Inserts
// are not announced: token_find must find a row committed before it was called. Calls that take an owner never touch another
// owner's rows. All methods are safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenkeep/change_feed.h"
#include "tokenkeep/record.h"

namespace tokenkeep {

class TokenRepository {
 public:
  virtual ~TokenRepository() = default;

  // Small persisted settings (scope vocabulary, prefix). Empty if never saved.
  virtual std::optional<std::string> setting_get(const std::string& key) = 0;
  // Saves `value` if the key is unset or equal to `expected`; returns the value in force.
  virtual std::string setting_put(const std::string& key, const std::string& value,
                                  const std::optional<std::string>& expected) = 0;

  // Inserts all or none. NameTaken if a live token of the owner has one of the names.
  virtual void tokens_insert(const std::vector<TokenRecord>& records, const std::string& actor,
                             std::int64_t at) = 0;
  // Any row with this id, revoked or not (verification).
  virtual std::optional<TokenRecord> token_find(std::int64_t id) = 0;
  // The owner's live (not revoked) token with this id.
  virtual std::optional<TokenRecord> token_find_owned(const std::string& owner,
                                                      std::int64_t id) = 0;
  // The owner's live tokens, newest first.
  virtual std::vector<TokenRecord> tokens_list(const std::string& owner) = 0;
  // Live tokens with expires_at in [from, until], soonest first; all owners if none given.
  virtual std::vector<TokenRecord> tokens_expiring(std::int64_t from, std::int64_t until,
                                                   const std::optional<std::string>& owner) = 0;

  // Each returns false (and changes nothing) if the owner has no live token with that id.
  virtual bool token_update_scopes(const std::string& owner, std::int64_t id,
                                   const std::vector<std::string>& scopes,
                                   const std::string& actor, std::int64_t at) = 0;
  // Revokes every id, or (if one is not a live token of the owner) none.
  virtual bool tokens_revoke(const std::string& owner, const std::vector<std::int64_t>& ids,
                             const std::string& actor, std::int64_t at) = 0;
  // Revokes `id` and inserts `replacement` in one transaction.
  virtual bool token_rotate(const std::string& owner, std::int64_t id,
                            const TokenRecord& replacement, const std::string& actor,
                            std::int64_t at) = 0;

  // Deletes rows revoked before `cutoff` or expired before it; returns how many.
  virtual std::int64_t tokens_purge(std::int64_t cutoff, const std::string& actor,
                                    std::int64_t at) = 0;
  // Best-effort, not audited: last_used_at = max(current, at) for each (id, at).
  virtual void tokens_touch(const std::vector<std::pair<std::int64_t, std::int64_t>>& uses) = 0;

  // The feed this repository's writers publish on (a PostgreSQL repository would back it
  // with LISTEN/NOTIFY).
  virtual ChangeFeed& change_feed() = 0;
  // Takes the write lock briefly and marks every begun write finished: recovers the feed
  // after a writer died between its announcement and its publication.
  virtual void change_feed_repair() = 0;

  // Called every 100 ms from the engine's background thread: release anything held between
  // calls (a read snapshot, say).
  virtual void idle() {}

  // Newest first, at most `limit`.
  virtual std::vector<AuditEvent> audit_list(const std::optional<std::string>& owner,
                                             std::int64_t limit) = 0;
};

}  // namespace tokenkeep
