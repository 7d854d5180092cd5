// Token logic: issue, list, edit, revoke, rotate, verify, expire, purge. Owns the policy
// (prefix, scope vocabulary, lifetimes), the peppers and the clock; stores through a
// TokenRepository and never sees SQL. Safe for concurrent use from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenkeep/clock.h"
#include "tokenkeep/pepper.h"
#include "tokenkeep/record.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_format.h"
#include "tokenkeep/token_repository.h"

namespace tokenkeep {

struct EngineOptions {
  std::optional<std::string> prefix;               // empty: persisted one, else "tk"
  std::optional<ScopeVocabulary> vocabulary;       // empty: persisted one, else default
  std::int64_t default_lifetime_us = 30 * kMicrosPerDay;
  std::int64_t max_lifetime_us = 365 * kMicrosPerDay;  // 0: no cap
  bool allow_never_expire = false;
  // Successful verifications persist last_used_at at most this often per token.
  std::int64_t last_used_interval_us = 60 * kMicrosPerSecond;
};

// How a new token's expiry is chosen.
struct Expiry {
  enum class Kind { kDefault, kIn, kAt, kNever };
  Kind kind = Kind::kDefault;
  std::int64_t value_us = 0;  // a duration for kIn, a time for kAt
};

struct NewToken {
  std::string name;
  std::vector<std::string> scopes;
  Expiry expiry;
};

struct IssuedToken {
  TokenText token;  // the whole token string; shown once
  TokenRecord record;
};

enum class VerifyStatus { kOk, kInvalid, kExpired, kRevoked, kInsufficientScope };

class Engine {
 public:
  Engine(std::unique_ptr<TokenRepository> repository, PepperSet peppers,
         std::shared_ptr<const Clock> clock, EngineOptions options);

  const std::string& prefix() const noexcept { return prefix_; }
  const ScopeVocabulary& vocabulary() const noexcept { return vocabulary_; }
  std::int64_t now_us() const noexcept { return clock_->now_us(); }

  IssuedToken create(const std::string& owner, const NewToken& spec, const std::string& actor);
  // All or nothing, one transaction, results in the order given.
  std::vector<IssuedToken> create_many(const std::string& owner,
                                       const std::vector<NewToken>& specs,
                                       const std::string& actor);
  TokenRecord get(const std::string& owner, std::string_view token_id);
  std::vector<TokenRecord> list(const std::string& owner);
  TokenRecord update_scopes(const std::string& owner, std::string_view token_id,
                            const std::vector<std::string>& scopes, const std::string& actor);
  void revoke(const std::string& owner, std::string_view token_id, const std::string& actor);
  // All or nothing: NotFound (and nothing revoked) if one id is not a live token of the owner.
  void revoke_many(const std::string& owner, const std::vector<std::string>& token_ids, const std::string& actor);
  IssuedToken rotate(const std::string& owner, std::string_view token_id,
                     const std::string& actor);

  // Mask for a check's required scopes (UnknownScope / InvalidArgument as in scopes.h).
  ScopeMask required_mask(const std::vector<std::string>& scopes) const;
  // Never throws for a bad token; fills `out` when the secret matched (any status but
  // kInvalid). StoreError only if the database cannot be read.
  VerifyStatus verify(std::string_view token, ScopeMask required, TokenRecord* out);
  // verify(), raising the matching Error for every status but kOk.
  TokenRecord verify_or_throw(std::string_view token, ScopeMask required);

  std::vector<TokenRecord> expiring_within(std::int64_t within_us,
                                           const std::optional<std::string>& owner);
  std::int64_t purge(std::int64_t older_than_us, const std::string& actor);
  std::vector<AuditEvent> audit(const std::optional<std::string>& owner, std::int64_t limit);

 private:
  TokenRecord make_record(const std::string& owner, const NewToken& spec, std::int64_t now,
                          IssuedToken* issued) const;
  std::int64_t expiry_resolve(const Expiry& e, std::int64_t now) const;
  std::vector<std::string> scopes_canonical(const std::vector<std::string>& scopes) const;
  std::int64_t id_resolve(std::string_view token_id) const;

  std::unique_ptr<TokenRepository> repo_;
  PepperSet peppers_;
  std::shared_ptr<const Clock> clock_;
  EngineOptions options_;
  std::string prefix_;
  ScopeVocabulary vocabulary_;
};

// Input rules shared by every surface. Each throws InvalidArgument with the reason.
// Returns the name stripped of surrounding blanks: 1-100 characters, no control characters.
std::string name_normalize(std::string_view name);
void owner_validate(std::string_view owner);

}  // namespace tokenkeep
