// PostgreSQL's binary wire format, where text conversion is the cost: a verification miss
// (an int8 parameter and a token row read without parsing or hex) and bulk create (COPY
// BINARY rows). Network byte order, as the server's *send/*recv functions write and read it;
// text travels as its bytes (the server checks their encoding, as for text parameters).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace tokenkeep::pg_binary {

inline void put_u16(std::string* out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}

inline void put_u32(std::string* out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out->append(b, 4);
}

inline void put_i64(std::string* out, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  put_u32(out, static_cast<std::uint32_t>(u >> 32));
  put_u32(out, static_cast<std::uint32_t>(u));
}

// An int8 (bigint) value: 8 bytes, most significant first.
inline std::string int8(std::int64_t v) {
  std::string out;
  put_i64(&out, v);
  return out;
}

// Reads what int8() wrote; `p` holds at least 8 bytes.
inline std::int64_t int8_read(const char* p) {
  std::uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(u);
}

// The rows of one `COPY table(columns) FROM STDIN (FORMAT binary)`: the signature header,
// then per row a field count and each field as length + bytes (-1: NULL), then the trailer.
// Fields must match the COPY's column list in number, order and type.
class CopyRows {
 public:
  CopyRows() {
    out_.append("PGCOPY\n\377\r\n\0", 11);
    put_u32(&out_, 0);  // flags: no OIDs
    put_u32(&out_, 0);  // header extension length
  }
  CopyRows& row(std::uint16_t fields) {
    put_u16(&out_, fields);
    return *this;
  }
  CopyRows& i64(std::int64_t v) {
    put_u32(&out_, 8);
    put_i64(&out_, v);
    return *this;
  }
  CopyRows& opt_i64(const std::optional<std::int64_t>& v) {
    if (!v) {
      put_u32(&out_, 0xFFFFFFFFu);
      return *this;
    }
    return i64(*v);
  }
  // text or bytea: the bytes themselves.
  CopyRows& bytes(std::string_view v) {
    put_u32(&out_, static_cast<std::uint32_t>(v.size()));
    out_.append(v.data(), v.size());
    return *this;
  }
  // The bytes encoded since the last clear() (the header first): a COPY fed in parts
  // (PgConnection::copy_put) sends them, then clears.
  std::string_view made() const { return out_; }
  void clear() { out_.clear(); }
  // The whole stream, or what is left of it after clear(), trailer included (call once,
  // after the last row).
  const std::string& finish() {
    put_u16(&out_, 0xFFFF);
    return out_;
  }
  void reserve(std::size_t n) { out_.reserve(n); }

 private:
  std::string out_;
};

// A one-dimensional array parameter (add_binary; the statement casts it, e.g. $1::text[]):
// dimensions, no NULL elements, the element type's OID, then each element as length +
// bytes, as array_recv reads it. The element type must match the cast's: kText or kInt8.
class ArrayOut {
 public:
  static constexpr std::uint32_t kInt8 = 20;
  static constexpr std::uint32_t kText = 25;
  ArrayOut(std::uint32_t element_oid, std::size_t n) {
    put_u32(&out_, 1);  // dimensions
    put_u32(&out_, 0);  // flags: no NULLs
    put_u32(&out_, element_oid);
    put_u32(&out_, static_cast<std::uint32_t>(n));
    put_u32(&out_, 1);  // lower bound
  }
  ArrayOut& i64(std::int64_t v) {
    put_u32(&out_, 8);
    put_i64(&out_, v);
    return *this;
  }
  ArrayOut& bytes(std::string_view v) {
    put_u32(&out_, static_cast<std::uint32_t>(v.size()));
    out_.append(v.data(), v.size());
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace tokenkeep::pg_binary
