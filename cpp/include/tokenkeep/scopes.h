// The scope vocabulary and scope sets. Each (name, action) pair of the vocabulary owns one
// bit; a token's scopes and a check's required scopes become 64-bit masks, so a check is
// one AND. Holding `device` sets every action bit of device; `device:read` sets one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenkeep {

using ScopeMask = std::uint64_t;

struct ScopeEntry {
  std::string name;
  std::vector<std::string> actions;
};

class ScopeVocabulary {
 public:
  // collection, device, policy, each with read and write.
  static ScopeVocabulary default_vocabulary();
  // InvalidArgument on an empty vocabulary, a bad or duplicate name/action, or over 64 bits.
  explicit ScopeVocabulary(std::vector<ScopeEntry> entries);

  // "collection:read,write;device:read,write" — the persisted form; parse() is its inverse.
  std::string serialize() const;
  // Why `scope` is refused and what to give instead (only built when a scope is refused).
  std::string unknown_scope_message(std::string_view scope) const;
  static ScopeVocabulary parse(std::string_view text);

  // True if every (name, action) of this vocabulary is also in `wider`.
  bool is_subset_of(const ScopeVocabulary& wider) const;

  // Mask of one scope string; UnknownScope if it is not in the vocabulary (no trimming,
  // no case folding: "Device " is unknown).
  ScopeMask mask_of(std::string_view scope) const;
  // Mask of a set; UnknownScope as above, InvalidArgument if `scopes` is empty.
  ScopeMask mask_of(const std::vector<std::string>& scopes) const;
  // Canonical strings for a mask: a name whose every action is set collapses to the name.
  std::vector<std::string> names_of(ScopeMask mask) const;
  const std::vector<ScopeEntry>& entries() const noexcept { return entries_; }
  // Every "name:action" pair whose bit is in `mask`, never collapsed (scope usage is kept
  // per action: a token that used device:read and device:write used each at its own time).
  std::vector<std::string> actions_of(ScopeMask mask) const;

 private:
  std::vector<ScopeEntry> entries_;
  std::vector<std::pair<ScopeMask, std::uint8_t>> name_bits_;  // per entry: first bit, count
};

// "a b c" <-> {"a","b","c"}; the stored form of a token's canonical scopes.
std::string scopes_join(const std::vector<std::string>& scopes);
std::vector<std::string> scopes_split(std::string_view text);

}  // namespace tokenkeep
