// The in-process cache of token records that verification reads instead of the database.
// Entries are immutable snapshots (shared_ptr<const CachedToken>), so a reader keeps using
// the one it found even if it is replaced meanwhile. The map is sharded, each shard behind
// a reader-writer lock, so concurrent verifies never serialize on one lock. Bounded: past
// its capacity a shard drops an arbitrary entry. Coherence (when to drop what) is the
// engine's job; see change_feed.h.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenkeep/networks.h"
#include "tokenkeep/pepper.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep {

// The last distinct client addresses one process saw a token used from, and when (µs; 0: an
// empty slot). Written without locks on the hot path: a torn (hi, lo) pair can only fail to
// match and queue an address again, which the store's upsert absorbs.
struct ClientSlot {
  std::atomic<std::uint64_t> hi{0};
  std::atomic<std::uint64_t> lo{0};
  std::atomic<std::int64_t> at{0};
};
struct ClientLog {
  static constexpr std::size_t kSlots = 4;
  std::array<ClientSlot, kSlots> slots;
};

class CachedToken {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  CachedToken(const TokenRecord& r, ScopeMask granted, const Pepper* pepper);
  // A copy, including the current use counters.
  CachedToken(const CachedToken& other);
  CachedToken& operator=(const CachedToken&) = delete;
  ~CachedToken();

  std::int64_t id;
  Digest digest;
  const Pepper* pepper;  // nullptr: made by a pepper this process does not know
  ScopeMask granted;
  std::int64_t created_at;
  std::int64_t expires_at;          // kNever if the token never expires
  std::int64_t revoked_at;          // 0 if live
  std::vector<IpNetwork> networks;  // empty: unbound (any client, or none)
  std::string networks_text;        // canonical CIDRs, space-separated (TokenInfo.networks)

  std::string_view owner() const noexcept { return std::string_view(text_).substr(0, owner_len_); }
  std::string_view name() const noexcept { return std::string_view(text_).substr(owner_len_, name_len_); }
  std::string_view scopes() const noexcept {
    return std::string_view(text_).substr(owner_len_ + name_len_,
                                          text_.size() - owner_len_ - name_len_ - description_len_);
  }
  std::string_view description() const noexcept {
    return std::string_view(text_).substr(text_.size() - description_len_);
  }

  // Latest use seen by this process and latest use known to be stored (0: none).
  mutable std::atomic<std::int64_t> used_us;
  mutable std::atomic<std::int64_t> persisted_us;
  mutable std::atomic<bool> flush_queued{false};
  // Scopes that successful verifications required (Engine::scope_usage): since the last
  // persist (the flusher takes them), and ever in this process (a new bit is flushed soon).
  mutable std::atomic<ScopeMask> scopes_window{0};
  mutable std::atomic<ScopeMask> scopes_seen{0};
  // Client addresses this process saw (Engine::client_record); allocated on the first one.
  mutable std::atomic<ClientLog*> clients{nullptr};

 private:
  std::string text_;  // owner, name, space-separated scopes and description, back to back
  std::uint32_t owner_len_;
  std::uint32_t name_len_;
  std::uint32_t description_len_;
};

using CachedTokenPtr = std::shared_ptr<const CachedToken>;

class TokenCache {
 public:
  explicit TokenCache(std::size_t capacity);

  std::size_t capacity() const noexcept { return capacity_; }
  CachedTokenPtr find(std::int64_t id) const;
  // Inserts (or replaces) unless `still_valid()`, called under the shard lock, says no.
  // Returns what was displaced, if anything, so unsaved uses are not lost.
  void insert(const CachedTokenPtr& token, const std::function<bool()>& still_valid,
              std::vector<CachedTokenPtr>* displaced);
  // Replaces the entry for token->id only if it is still `expected`.
  bool replace(const CachedTokenPtr& expected, const CachedTokenPtr& token);
  void erase(std::int64_t id, std::vector<CachedTokenPtr>* displaced);
  void clear(std::vector<CachedTokenPtr>* displaced);
  std::size_t size() const;
  void for_each(const std::function<void(const CachedTokenPtr&)>& f) const;
  // Around fork() (fork_guard.h): every shard locked, then released in the parent; in the
  // child made anew (glibc's rwlock unlock goes by thread id, and the child's is another).
  void lock_all() const;
  void unlock_all() const;
  void locks_renew() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::int64_t, CachedTokenPtr> map;
  };
  Shard& shard(std::int64_t id) const noexcept {
    return shards_[static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ULL >> 60];
  }

  std::size_t capacity_;
  std::size_t per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace tokenkeep
