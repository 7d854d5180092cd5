// The records the binding returns (convert.h): aware UTC datetimes, frozensets of scopes and
// TokenInfo / IssuedToken / AuditEvent tuples, built with the C API (several times faster than
// calling the Python classes), sharing the objects that repeat across many records.
#include <pybind11/pybind11.h>
// After Python.h (which pybind11 includes).
#include <datetime.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "convert.h"
#include "tokenkeep/scopes.h"
#include "tokenkeep/token_format.h"

namespace tokenkeep::bindings {
namespace {

// Days since 1970-01-01 -> proleptic Gregorian date (H. Hinnant's civil_from_days).
void civil_from_days(std::int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yoe + era * 400 + (*m <= 2));
}

// The Python record types (tokenkeep.models registers them): TokenInfo and IssuedToken are
// tuple subclasses, so the binding builds them directly, with no Python call per record.
// Null until registered: plain tuples then.
PyTypeObject* g_token_info_type = nullptr;
PyTypeObject* g_issued_type = nullptr;

template <typename... Items>
py::object typed_tuple(PyTypeObject* type, Items&&... items) {
  py::object objs[] = {py::object(std::forward<Items>(items))...};
  const Py_ssize_t n = sizeof...(Items);
  PyObject* t = type != nullptr ? type->tp_alloc(type, n) : PyTuple_New(n);
  if (t == nullptr) throw py::error_already_set();
  for (Py_ssize_t i = 0; i < n; ++i) PyTuple_SET_ITEM(t, i, objs[i].release().ptr());
  // Out of the cyclic GC: a record holds strings, datetimes, None and frozensets of strings,
  // none of which can lead back to it, so it can never be part of a cycle. Tracked, the
  // thousands a warm process builds and memoizes (verifier.cc) were traversed by every
  // collection: 16% of a restarted worker's first verifications (perf, 5,000 tokens).
  PyObject_GC_UnTrack(t);
  return py::reinterpret_steal<py::object>(t);
}

py::str text(std::string_view s) { return py::str(s.data(), s.size()); }

py::frozenset scope_set(const std::vector<std::string>& scopes) {
  py::set s;
  for (const auto& x : scopes) s.add(py::str(x));
  return py::frozenset(s);
}

// The frozenset for a stored scope text ("device policy:read"). Memoized (GIL held): a store
// has few distinct scope sets, and frozensets are immutable, so TokenInfos may share them.
// The memo is never destroyed, so no Python object outlives the interpreter in a destructor.
py::object scope_set_of(std::string_view text) {
  static auto* memo = new std::unordered_map<std::string, py::object>();
  auto it = memo->find(std::string(text));
  if (it != memo->end()) return it->second;
  if (memo->size() >= 256) memo->clear();
  py::object set = scope_set(scopes_split(text));
  memo->emplace(std::string(text), set);
  return set;
}

py::object utc_datetime_or_none(const std::optional<std::int64_t>& us) {
  return us ? utc_datetime(*us) : py::none();
}

}  // namespace

void records_init() {
  // datetime.h's API pointer is a static of each file that includes it: this file's.
  PyDateTime_IMPORT;
  if (PyDateTimeAPI == nullptr) throw py::error_already_set();
}

// Microseconds since the epoch -> aware datetime in UTC.
py::object utc_datetime(std::int64_t us) {
  std::int64_t secs = us / 1000000, frac = us % 1000000;
  if (frac < 0) frac += 1000000, --secs;
  std::int64_t days = secs / 86400, sod = secs % 86400;
  if (sod < 0) sod += 86400, --days;
  int y = 0, m = 0, d = 0;
  civil_from_days(days, &y, &m, &d);
  PyObject* o = PyDateTimeAPI->DateTime_FromDateAndTime(
      y, m, d, static_cast<int>(sod / 3600), static_cast<int>(sod % 3600 / 60), static_cast<int>(sod % 60),
      static_cast<int>(frac), PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

void record_types_set(PyTypeObject* token_info, PyTypeObject* issued) {
  g_token_info_type = token_info;
  g_issued_type = issued;
}

// A TokenInfo: id, owner, name, scopes, created_at, expires_at, last_used_at, revoked_at,
// description, networks.
py::object to_tuple(const TokenRecord& r) {
  return typed_tuple(g_token_info_type, text(token_id_format(r.id)), text(r.owner), text(r.name),
                     scope_set(r.scopes), utc_datetime(r.created_at), utc_datetime_or_none(r.expires_at),
                     utc_datetime_or_none(r.last_used_at), utc_datetime_or_none(r.revoked_at),
                     text(r.description), scope_set_of(scopes_join(r.networks)));
}

py::object to_tuple(const CachedToken& t) {
  const std::int64_t used = t.used_us.load(std::memory_order_relaxed);
  return typed_tuple(
      g_token_info_type, text(token_id_format(t.id)), text(t.owner()), text(t.name()),
      scope_set_of(t.scopes()), utc_datetime(t.created_at),
      t.expires_at == CachedToken::kNever ? py::object(py::none()) : utc_datetime(t.expires_at),
      used == 0 ? py::object(py::none()) : utc_datetime(used),
      t.revoked_at == 0 ? py::object(py::none()) : utc_datetime(t.revoked_at), text(t.description()),
      scope_set_of(t.networks_text));
}

// An AuditEvent's fields in tokenkeep.models.AuditEvent's order.
py::tuple audit_tuple(const AuditEvent& a) {
  return py::make_tuple(a.seq, utc_datetime(a.at), a.actor, a.action,
                        a.token_id ? py::object(py::str(token_id_format(*a.token_id))) : py::none(), a.owner,
                        a.name, scope_set(scopes_split(a.old_scopes)), scope_set(scopes_split(a.new_scopes)),
                        a.detail);
}

struct TupleBuilder::Memo {
  template <typename K, typename F>
  static py::object shared(std::unordered_map<K, py::object>& memo, const K& key, F make) {
    auto it = memo.find(key);
    if (it != memo.end()) return it->second;
    if (memo.size() > 64) memo.clear();
    return memo.emplace(key, make()).first->second;
  }
  py::object time(std::int64_t us) {
    return shared(times, us, [&] { return utc_datetime(us); });
  }

  std::unordered_map<std::string, py::object> strings;
  std::unordered_map<std::string, py::object> scopes;
  std::unordered_map<std::int64_t, py::object> times;
};

TupleBuilder::TupleBuilder() : m_(std::make_unique<Memo>()) {}
TupleBuilder::~TupleBuilder() = default;

py::object TupleBuilder::operator()(const TokenRecord& r) {
  Memo& m = *m_;
  return typed_tuple(
      g_token_info_type, text(token_id_format(r.id)),
      Memo::shared(m.strings, r.owner, [&] { return py::str(r.owner); }), text(r.name),
      Memo::shared(m.scopes, scopes_join(r.scopes), [&] { return py::object(scope_set(r.scopes)); }),
      m.time(r.created_at), r.expires_at ? m.time(*r.expires_at) : py::object(py::none()),
      r.last_used_at ? m.time(*r.last_used_at) : py::object(py::none()),
      r.revoked_at ? m.time(*r.revoked_at) : py::object(py::none()), text(r.description),
      scope_set_of(scopes_join(r.networks)));
}

py::list to_tuples(const std::vector<TokenRecord>& rs) {
  py::list out(rs.size());
  TupleBuilder build;
  for (std::size_t i = 0; i < rs.size(); ++i) out[i] = build(rs[i]);
  return out;
}

// An IssuedToken: secret, info.
py::object issued_tuple(const IssuedToken& t, TupleBuilder& build) {
  return typed_tuple(g_issued_type, text(t.token.view()), build(t.record));
}

}  // namespace tokenkeep::bindings
