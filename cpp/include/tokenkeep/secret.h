// Owner of secret bytes. Fixed capacity, never reallocates, wiped with
// sodium_memzero on destruction and on reassignment. Nothing else in the
// engine holds secret material.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace tokenkeep {

template <std::size_t Capacity>
class SecretBuffer {
 public:
  SecretBuffer() noexcept { bytes_.fill(0); }
  SecretBuffer(const SecretBuffer& other) noexcept { *this = other; }
  SecretBuffer& operator=(const SecretBuffer& other) noexcept {
    if (this != &other) {
      wipe();
      std::memcpy(bytes_.data(), other.bytes_.data(), Capacity);
      size_ = other.size_;
    }
    return *this;
  }
  ~SecretBuffer() { wipe(); }

  // Copies at most Capacity bytes of `src`; returns false (and stores nothing) if it does not fit.
  bool assign(std::string_view src) noexcept {
    wipe();
    if (src.size() > Capacity) return false;
    std::memcpy(bytes_.data(), src.data(), src.size());
    size_ = src.size();
    return true;
  }
  void wipe() noexcept {
    sodium_memzero(bytes_.data(), Capacity);
    size_ = 0;
  }
  unsigned char* data() noexcept { return bytes_.data(); }
  const unsigned char* data() const noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return size_; }
  void resize(std::size_t n) noexcept { size_ = n <= Capacity ? n : Capacity; }
  std::string_view view() const noexcept { return {reinterpret_cast<const char*>(bytes_.data()), size_}; }

 private:
  std::array<unsigned char, Capacity> bytes_;
  std::size_t size_ = 0;
};

}  // namespace tokenkeep
