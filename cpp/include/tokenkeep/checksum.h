// The token checksum: CRC-32 (IEEE 802.3, the polynomial of zlib.crc32) of every
// character before it, written as 6 base62 digits. Lets typos and random strings be
// rejected without touching the store, and lets secret scanners validate offline.
#pragma once

#include <cstdint>
#include <string_view>

namespace tokenkeep {

inline constexpr int kChecksumWidth = 6;  // 62^6 > 2^32

std::uint32_t crc32_compute(std::string_view data) noexcept;

}  // namespace tokenkeep
