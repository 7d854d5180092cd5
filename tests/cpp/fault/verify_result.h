// What Engine::verify fills in, read the same way whether it is a TokenRecord (the first
// engine) or a shared pointer to a cached token (the cached engine), so that the fault and
// fuzz tests depend only on the behaviour of the public API, not on its result type.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tokenkeep/engine.h"
#include "tokenkeep/scopes.h"

namespace tokenkeep::testing {

template <typename>
struct VerifyOutOf;
template <typename C, typename R, typename A, typename B, typename Out>
struct VerifyOutOf<R (C::*)(A, B, Out*)> {
  using type = Out;
};
template <typename C, typename R, typename A, typename B, typename Out, typename Client>
struct VerifyOutOf<R (C::*)(A, B, Out*, Client)> {
  using type = Out;
};
// The type of Engine::verify's third parameter, without the pointer.
using VerifyOut = typename VerifyOutOf<decltype(&Engine::verify)>::type;

namespace detail {
template <typename T>
auto id_of(const T& r, int) -> decltype(std::int64_t(r.id)) {
  return r.id;
}
template <typename T>
auto id_of(const T& p, long) -> decltype(std::int64_t(p->id)) {
  return p ? p->id : 0;
}
template <typename T>
auto name_of(const T& r, int) -> decltype(std::string(r.name)) {
  return r.name;
}
template <typename T>
auto name_of(const T& p, long) -> decltype(std::string(p->name())) {
  return p ? std::string(p->name()) : std::string();
}
template <typename T>
auto scopes_of(const T& r, int) -> decltype(std::vector<std::string>(r.scopes)) {
  return r.scopes;
}
template <typename T>
auto scopes_of(const T& p, long) -> decltype(scopes_split(p->scopes())) {
  return p ? scopes_split(p->scopes()) : std::vector<std::string>();
}
template <typename E>
auto uses_flush(E& e, int) -> decltype(e.uses_flush(), void()) {
  e.uses_flush();
}
template <typename E>
void uses_flush(E&, long) {}
}  // namespace detail

// Persists the uses verify recorded, where the engine records them in the background, so
// that nothing writes behind a test's back (the first engine wrote them synchronously).
inline void engine_uses_flush(Engine& e) { detail::uses_flush(e, 0); }

template <typename T>
std::int64_t result_id(const T& r) {
  return detail::id_of(r, 0);
}
template <typename T>
std::string result_name(const T& r) {
  return detail::name_of(r, 0);
}
template <typename T>
std::vector<std::string> result_scopes(const T& r) {
  return detail::scopes_of(r, 0);
}

}  // namespace tokenkeep::testing
