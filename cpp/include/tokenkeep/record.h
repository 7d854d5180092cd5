// Plain values passed between the engine and a TokenRepository. No secret here: a record
// holds only the keyed digest of a token's secret part.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenkeep/pepper.h"

namespace tokenkeep {

struct TokenRecord {
  std::int64_t id = 0;
  std::string owner;
  std::string name;
  std::vector<std::string> scopes;  // canonical (ScopeVocabulary::names_of)
  Digest digest{};
  std::string pepper_id;                   // Pepper::fingerprint() of the pepper that made `digest`
  std::int64_t created_at = 0;             // all times: µs since the epoch, UTC
  std::optional<std::int64_t> expires_at;  // empty: never expires
  std::optional<std::int64_t> last_used_at;
  std::optional<std::int64_t> revoked_at;
  std::string description{};            // the owner's note ("" if none; description_normalize)
  std::vector<std::string> networks{};  // canonical CIDRs (networks_canonical); empty: unbound
};

// One audited change: who did what to which token, when. Never a secret.
struct AuditEvent {
  std::int64_t seq = 0;
  std::int64_t at = 0;
  std::string actor;
  std::string action;  // create | update_scopes | update_description | update_networks | revoke |
                       // rotate | purge | leaked
  std::optional<std::int64_t> token_id;
  std::string owner;
  std::string name;
  std::string old_scopes;  // space-separated, "" if none
  std::string new_scopes;
  std::string detail;
};

// --- Leak response and scope usage -----------------------------------------------------------

// A token found in leaked text (engine_leak.cc) and where: a label such as "app.log, line 12",
// never the secret. Stored as the "leaked" audit row's detail.
struct LeakedToken {
  std::int64_t id = 0;
  std::string source;
};

// One scope a token exercised and when (last_used_at of that scope). `scope` is one
// "name:action" pair of the vocabulary (ScopeVocabulary::actions_of), never a collapsed name,
// so that each action keeps its own time.
struct ScopeUse {
  std::int64_t id = 0;
  std::string scope;
  std::int64_t at = 0;
};

// One address a token was used from and when (its last use from there): the canonical text
// of ip_address_format ("10.0.0.1", "2001:db8::1"). Recorded off the hot path (engine_uses.cc).
struct ClientUse {
  std::int64_t id = 0;
  std::string address;
  std::int64_t at = 0;
};

}  // namespace tokenkeep
