// The server-side pepper that keys every stored digest, and the digest itself:
// BLAKE2b-256(key = pepper, message = id as 8 big-endian bytes || 43 secret chars).
// A pepper is known by a fingerprint (16 hex chars, derived one-way from the key) that
// each row records, so the pepper can be rotated while old rows still verify.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenkeep/secret.h"
#include "tokenkeep/store_location.h"

namespace tokenkeep {

inline constexpr std::size_t kPepperBytes = 32;
inline constexpr std::size_t kDigestBytes = 32;
using Digest = std::array<unsigned char, kDigestBytes>;

// The key lives in sodium_malloc'ed memory: guard pages around it, mlock'ed (never swapped)
// and, on Linux, madvise(MADV_DONTDUMP) (never in a core dump); sodium_free wipes it.
class Pepper {
 public:
  // From exactly 32 bytes of key material.
  explicit Pepper(std::string_view key);
  // From 64 hex chars (TOKENKEEP_PEPPER, the key file). InvalidArgument otherwise.
  static Pepper from_hex(std::string_view hex);
  static Pepper generate();

  const std::string& fingerprint() const noexcept { return fingerprint_; }
  std::string to_hex() const;
  Digest digest(std::int64_t id, std::string_view secret) const noexcept;
  // A 32-byte key for another purpose (the admin page's CSRF signatures), derived with
  // crypto_kdf_derive_from_key under `context` (1-8 chars): the same for every process that
  // holds this pepper, independent of the digests and of other contexts.
  SecretBuffer<32> subkey(std::string_view context) const;

 private:
  struct Free {
    void operator()(unsigned char* p) const noexcept;
  };
  std::unique_ptr<unsigned char, Free> key_;
  std::string fingerprint_;
};

// The current pepper (used for new digests) and older ones (still accepted).
class PepperSet {
 public:
  explicit PepperSet(Pepper current) : current_(std::move(current)) {}
  void add_previous(Pepper p) { previous_.push_back(std::move(p)); }
  const Pepper& current() const noexcept { return current_; }
  // The pepper with this fingerprint, or nullptr if none is known.
  const Pepper* find(std::string_view fingerprint) const noexcept;

 private:
  Pepper current_;
  std::vector<Pepper> previous_;
};

// SPEC §2: the pepper for the store at `location`: TOKENKEEP_PEPPER if set, else its key
// file (location.key_file), created (mode 0600, O_EXCL) with a fresh key if missing. An
// in-memory store gets a fresh ephemeral pepper. StoreError if the key file cannot be read
// or written.
Pepper pepper_load(const StoreLocation& location);

// Constant-time equality of two digests (crypto_verify_32).
bool digest_equal(const Digest& a, const Digest& b) noexcept;

}  // namespace tokenkeep
