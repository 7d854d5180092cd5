// Outcomes of engine calls. Each code maps to exactly one Python exception class
// (bindings/errors.cc); the message never contains secret material.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace tokenkeep {

enum class ErrorCode {
  kInvalidToken,       // malformed, bad checksum, unknown id, wrong secret, unknown pepper
  kExpiredToken,       // secret matched, token past expires_at
  kRevokedToken,       // secret matched, token revoked
  kInsufficientScope,  // token valid, a required scope is not granted
  kNotFound,           // no such token for this owner
  kNameTaken,          // a live token of this owner already has the name
  kUnknownScope,       // a scope outside the store's vocabulary
  kInvalidArgument,    // any other bad input
  kStoreError,         // the database cannot be opened, read or written
};

// The one message for every kInvalidToken, so that failures are no oracle.
inline constexpr const char* kInvalidTokenMessage = "invalid token";

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

  // Set only for kInsufficientScope: canonical scope strings.
  std::vector<std::string> required;
  std::vector<std::string> granted;
  // The argument the error is about ("name", "path", ...); empty when not about one.
  std::string field;

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

[[noreturn]] inline void fail(ErrorCode code, const std::string& message, const std::string& field) {
  Error e(code, message);
  e.field = field;
  throw e;
}

}  // namespace tokenkeep
