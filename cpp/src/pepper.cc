#include "tokenkeep/pepper.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

constexpr char kFingerprintContext[] = "tokenkeep pepper fingerprint v1";
constexpr std::size_t kHexLen = kPepperBytes * 2;

std::string errno_text() { return std::strerror(errno); }

// Reads the whole small key file into `out` (at most its capacity). False if missing.
// Refuses a key file others could read or another user could have planted (store_file_check).
bool key_file_read(const StoreLocation& loc, SecretBuffer<128>* out) {
  const std::string& path = loc.key_file;
  const int fd = store_file_open(loc, path, "key file", O_RDONLY, FileOpen::kExisting);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    fail(ErrorCode::kStoreError, "cannot read pepper key file " + path + ": " + errno_text());
  }
  try {
    store_file_check(fd, path, "key file", loc, 077u);
  } catch (...) {
    ::close(fd);
    throw;
  }
  unsigned char buf[128];
  ssize_t total = 0;
  for (;;) {
    const ssize_t r = ::read(fd, buf + total, sizeof buf - static_cast<std::size_t>(total));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ::close(fd);
      fail(ErrorCode::kStoreError, "cannot read pepper key file " + path + ": " + errno_text());
    }
    if (r == 0 || total + r == static_cast<ssize_t>(sizeof buf)) {
      total += r;
      break;
    }
    total += r;
  }
  ::close(fd);
  out->assign(std::string_view(reinterpret_cast<char*>(buf), static_cast<std::size_t>(total)));
  sodium_memzero(buf, sizeof buf);
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

Pepper::Pepper(std::string_view key) {
  if (key.size() != kPepperBytes) {
    fail(ErrorCode::kInvalidArgument, "a pepper must be exactly 32 bytes");
  }
  if (sodium_init() < 0) fail(ErrorCode::kStoreError, "libsodium failed to initialize");
  key_.reset(static_cast<unsigned char*>(sodium_malloc(kPepperBytes)));
  if (!key_) fail(ErrorCode::kStoreError, "cannot allocate locked memory for the pepper (RLIMIT_MEMLOCK?)");
  std::memcpy(key_.get(), key.data(), kPepperBytes);
  unsigned char fp[16];
  crypto_generichash(fp, sizeof fp, reinterpret_cast<const unsigned char*>(kFingerprintContext),
                     sizeof kFingerprintContext - 1, key_.get(), kPepperBytes);
  char hex[sizeof fp * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, fp, 8);
  fingerprint_ = hex;
}

void Pepper::Free::operator()(unsigned char* p) const noexcept { sodium_free(p); }

Pepper Pepper::from_hex(std::string_view hex) {
  hex = trim(hex);
  if (hex.size() != kHexLen) {
    fail(ErrorCode::kInvalidArgument, "a pepper must be 64 hexadecimal characters");
  }
  SecretBuffer<kPepperBytes> bin;
  std::size_t len = 0;
  if (sodium_hex2bin(bin.data(), kPepperBytes, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
      len != kPepperBytes) {
    fail(ErrorCode::kInvalidArgument, "a pepper must be 64 hexadecimal characters");
  }
  bin.resize(kPepperBytes);
  return Pepper(bin.view());
}

Pepper Pepper::generate() {
  if (sodium_init() < 0) fail(ErrorCode::kStoreError, "libsodium failed to initialize");
  SecretBuffer<kPepperBytes> bin;
  randombytes_buf(bin.data(), kPepperBytes);
  bin.resize(kPepperBytes);
  return Pepper(bin.view());
}

std::string Pepper::to_hex() const {
  char hex[kHexLen + 1];
  sodium_bin2hex(hex, sizeof hex, key_.get(), kPepperBytes);
  std::string s(hex, kHexLen);
  sodium_memzero(hex, sizeof hex);
  return s;
}

SecretBuffer<32> Pepper::subkey(std::string_view context) const {
  static_assert(crypto_kdf_KEYBYTES == kPepperBytes, "a pepper is a KDF master key");
  if (context.empty() || context.size() > crypto_kdf_CONTEXTBYTES) {
    fail(ErrorCode::kInvalidArgument, "a subkey context is 1-8 characters", "context");
  }
  char ctx[crypto_kdf_CONTEXTBYTES] = {};
  for (std::size_t i = 0; i < context.size(); ++i) ctx[i] = context[i];
  unsigned char out[32];
  crypto_kdf_derive_from_key(out, sizeof out, 1, ctx, key_.get());
  SecretBuffer<32> key;
  key.assign(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
  sodium_memzero(out, sizeof out);
  return key;
}

Digest Pepper::digest(std::int64_t id, std::string_view secret) const noexcept {
  Digest out{};
  crypto_generichash_state st;
  unsigned char id_be[8];
  for (int i = 0; i < 8; ++i)
    id_be[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(id) >> (56 - 8 * i));
  crypto_generichash_init(&st, key_.get(), kPepperBytes, out.size());
  crypto_generichash_update(&st, id_be, sizeof id_be);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

const Pepper* PepperSet::find(std::string_view fingerprint) const noexcept {
  if (current_.fingerprint() == fingerprint) return &current_;
  for (const auto& p : previous_) {
    if (p.fingerprint() == fingerprint) return &p;
  }
  return nullptr;
}

bool digest_equal(const Digest& a, const Digest& b) noexcept {
  return crypto_verify_32(a.data(), b.data()) == 0;
}

Pepper pepper_load(const StoreLocation& location) {
  if (const char* env = std::getenv("TOKENKEEP_PEPPER"); env != nullptr && *env != '\0') {
    try {
      return Pepper::from_hex(env);
    } catch (const Error&) {
      fail(ErrorCode::kInvalidArgument, "TOKENKEEP_PEPPER must be 64 hexadecimal characters");
    }
  }
  if (location.kind != StoreLocation::Kind::kFile) return Pepper::generate();

  const std::string& key_path = location.key_file;
  SecretBuffer<128> text;
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (key_file_read(location, &text)) {
      if (trim(text.view()).empty()) {  // another process is between create and write
        ::usleep(2000);
        continue;
      }
      try {
        return Pepper::from_hex(text.view());
      } catch (const Error&) {
        fail(ErrorCode::kStoreError,
             "pepper key file " + key_path + " is corrupt: expected 64 hexadecimal characters");
      }
    }
    // Create it: O_EXCL so that of several processes exactly one writes the key.
    const int fd = store_file_open(location, key_path, "key file", O_WRONLY, FileOpen::kCreateNew);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      fail(ErrorCode::kStoreError, "cannot create pepper key file " + key_path + ": " + errno_text());
    }
    ::fchmod(fd, 0600);  // ours: store_file_open created it (and gave it to the database's owner)
    Pepper fresh = Pepper::generate();
    std::string hex = fresh.to_hex();
    hex.push_back('\n');
    const bool ok =
        ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
    sodium_memzero(hex.data(), hex.size());
    ::close(fd);
    if (!ok) {
      ::unlink(key_path.c_str());
      fail(ErrorCode::kStoreError, "cannot write pepper key file " + key_path + ": " + errno_text());
    }
    return fresh;
  }
  fail(ErrorCode::kStoreError, "pepper key file " + key_path + " stayed empty");
}

}  // namespace tokenkeep
