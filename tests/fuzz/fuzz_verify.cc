// Fuzzes the whole verify path — parse, id lookup, keyed digest, constant-time compare,
// revocation, expiry, scope check, last-use bookkeeping — against an in-memory store that
// holds live, revoked, expired, rotated, narrow-scoped and other-owner tokens.
//
// The first input byte picks how the rest becomes a token, so that the fuzzer gets past the
// checksum and reaches the store:
//   0  the bytes as they are
//   1  "tk_" + up to 54 bytes + the correct checksum (arbitrary ids and secrets)
//   2  a known token's prefix and id + 43 fuzzed secret bytes + the correct checksum
//   3  a known token with one byte replaced, checksum fixed (near misses)
//   4  a known token with one byte replaced, checksum not fixed
// Two more bytes give the required scope mask. The invariants: a status other than kInvalid
// only for a byte-exact issued token, the status that token must have, kOk only when its
// scopes cover the mask, verify_or_throw agreeing with verify and raising only Error with
// the one "invalid token" message for every invalid input.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tokenkeep/base62.h"
#include "tokenkeep/checksum.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"
#include "verify_result.h"

using namespace tokenkeep;
using tokenkeep::testing::result_id;
using tokenkeep::testing::VerifyOut;

namespace {

constexpr std::int64_t kT0 = 1893456000LL * kMicrosPerSecond;  // 2030-01-01T00:00:00Z

struct Known {
  std::string token;
  VerifyStatus status;  // what verify must say with an empty required mask
  ScopeMask granted;
};

struct World {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0);
  std::unique_ptr<Engine> engine;
  std::vector<Known> known;
};

World* g_world = nullptr;

void add(World& w, const IssuedToken& t, VerifyStatus st) {
  w.known.push_back({std::string(t.token.view()), st, w.engine->required_mask(t.record.scopes)});
}

World* world_make() {
  auto* w = new World;
  StoreOptions o;
  o.pepper_hex = std::string(64, 'f');
  o.clock = w->clock;
  o.engine.allow_never_expire = true;
  w->engine = store_open(":memory:", o);
  Engine& e = *w->engine;
  const Expiry hour{Expiry::Kind::kIn, 3600 * kMicrosPerSecond};
  const Expiry never{Expiry::Kind::kNever, 0};
  add(*w, e.create("alice", NewToken{"live", {"device", "policy:read"}, {}}, ""), VerifyStatus::kOk);
  add(*w, e.create("alice", NewToken{"never", {"collection:read"}, never}, ""), VerifyStatus::kOk);
  add(*w, e.create("bob", NewToken{"bobs", {"policy"}, {}}, ""), VerifyStatus::kOk);
  const auto revoked = e.create("alice", NewToken{"revoked", {"device"}, {}}, "");
  e.revoke("alice", token_id_format(revoked.record.id), "");
  add(*w, revoked, VerifyStatus::kRevoked);
  const auto old = e.create("alice", NewToken{"rotated", {"device:read"}, {}}, "");
  const auto fresh = e.rotate("alice", token_id_format(old.record.id), "");
  add(*w, old, VerifyStatus::kRevoked);
  add(*w, fresh, VerifyStatus::kOk);
  add(*w, e.create("carol", NewToken{"short", {"device"}, hour}, ""), VerifyStatus::kExpired);
  w->clock->advance_us(2 * 3600 * kMicrosPerSecond);  // "short" is now expired
  return w;
}

std::string with_checksum(std::string s) {
  s += base62_encode_fixed(crc32_compute(s), kChecksumWidth);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_world = world_make();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World& w = *g_world;
  if (size < 3) return 0;
  const int mode = data[0] % 5;
  // Required mask: one of the vocabulary's 6 bits per input bit, so the check is meaningful.
  const ScopeMask required =
      (static_cast<ScopeMask>(data[1]) | (static_cast<ScopeMask>(data[2]) << 8)) & 0x3f;
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);

  std::string token;
  const Known* base = nullptr;
  if (mode == 0) {
    token.assign(rest);
  } else if (mode == 1) {
    token = with_checksum("tk_" + std::string(rest.substr(0, kIdWidth + kSecretWidth)));
  } else if (!rest.empty()) {
    base = &w.known[static_cast<unsigned char>(rest[0]) % w.known.size()];
    rest.remove_prefix(1);
    if (mode == 2) {
      token = with_checksum(base->token.substr(0, 3 + kIdWidth) + std::string(rest.substr(0, kSecretWidth)));
    } else if (rest.size() >= 2) {
      token = base->token;
      token[static_cast<unsigned char>(rest[0]) % token.size()] = rest[1];
      if (mode == 3) token = with_checksum(token.substr(0, token.size() - kChecksumWidth));
    } else {
      token = base->token;
    }
  }

  const Known* match = nullptr;
  for (const auto& k : w.known) {
    if (k.token == token) match = &k;
  }

  VerifyOut rec{};
  const VerifyStatus st = w.engine->verify(token, required, &rec);
  if (match == nullptr) {
    FUZZ_CHECK(st == VerifyStatus::kInvalid);
  } else if (match->status != VerifyStatus::kOk) {
    FUZZ_CHECK(st == match->status);
  } else {
    const bool covered = (match->granted & required) == required;
    FUZZ_CHECK(st == (covered ? VerifyStatus::kOk : VerifyStatus::kInsufficientScope));
  }
  if (st != VerifyStatus::kInvalid) FUZZ_CHECK(token_id_format(result_id(rec)) == token.substr(3, kIdWidth));

  try {
    const auto r = w.engine->verify_or_throw(token, required);
    FUZZ_CHECK(st == VerifyStatus::kOk);
    FUZZ_CHECK(result_id(r) == result_id(rec));
  } catch (const Error& e) {
    FUZZ_CHECK(st != VerifyStatus::kOk);
    switch (st) {
      case VerifyStatus::kInvalid:
        FUZZ_CHECK(e.code() == ErrorCode::kInvalidToken);
        FUZZ_CHECK(std::strcmp(e.what(), kInvalidTokenMessage) == 0);
        break;
      case VerifyStatus::kExpired:
        FUZZ_CHECK(e.code() == ErrorCode::kExpiredToken);
        break;
      case VerifyStatus::kRevoked:
        FUZZ_CHECK(e.code() == ErrorCode::kRevokedToken);
        break;
      case VerifyStatus::kInsufficientScope:
        FUZZ_CHECK(e.code() == ErrorCode::kInsufficientScope);
        break;
      case VerifyStatus::kNetworkNotAllowed:  // no token here is bound to networks
        FUZZ_CHECK(false);
        break;
      case VerifyStatus::kOk:
        break;
    }
    // No message may echo a secret: the invalid one is constant, the others name scopes only.
    if (match != nullptr) {
      const std::string secret = match->token.substr(3 + kIdWidth, kSecretWidth);
      FUZZ_CHECK(std::string_view(e.what()).find(secret.substr(0, 12)) == std::string_view::npos);
    }
  }
  return 0;
}
