// Outcomes of engine calls. Each code maps to exactly one Python exception class, the one
// python/tokenkeep/errors.py declares with this code's name (bindings/core.cc looks them up);
// the message never contains secret material.
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
  kNetworkNotAllowed,  // token valid, bound to networks, and the client is outside them or unknown
  kNotFound,           // no such token for this owner
  kNameTaken,          // a live token of this owner already has the name
  kUnknownScope,       // a scope outside the store's vocabulary
  kInvalidArgument,    // any other bad input
  kStoreError,         // the database cannot be opened, read or written (stays last)
};
inline constexpr int kErrorCodeCount = static_cast<int>(ErrorCode::kStoreError) + 1;

// The code's name, as tokenkeep.errors spells it (each class's `code`) and the CLI's --json
// errors show it: "name_taken".
constexpr const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidToken:
      return "invalid_token";
    case ErrorCode::kExpiredToken:
      return "expired_token";
    case ErrorCode::kRevokedToken:
      return "revoked_token";
    case ErrorCode::kInsufficientScope:
      return "insufficient_scope";
    case ErrorCode::kNetworkNotAllowed:
      return "network_not_allowed";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kNameTaken:
      return "name_taken";
    case ErrorCode::kUnknownScope:
      return "unknown_scope";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kStoreError:
      break;
  }
  return "store_error";
}

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
