// tokenkeep._core: the pybind11 face of the engine. It maps types and errors and releases
// the GIL around engine work; every decision lives in cpp/, every API nicety in
// python/tokenkeep/. Records cross as tuples in TokenInfo's field order (records.cc), the
// verification fast path is its own type (verifier.cc), the leak and usage methods are in
// extras.cc; this file holds the arguments, the errors and the module itself.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <sodium.h>

#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "convert.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/store.h"
#include "tokenkeep/store_location.h"
#include "tokenkeep/token_format.h"

namespace py = pybind11;
using namespace tokenkeep;

namespace tokenkeep::bindings {

// UTF-8 of a str, or InvalidArgument naming `what` (never echoing the value).
std::string utf8_of(PyObject* o, const char* what) {
  Py_ssize_t n = 0;
  const char* p = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &n) : nullptr;
  if (p == nullptr) {
    PyErr_Clear();
    fail(ErrorCode::kInvalidArgument, std::string(what) + " must be a string");
  }
  return std::string(p, static_cast<std::size_t>(n));
}

// A str or an iterable of str, as strings (`what` names it in the error).
std::vector<std::string> strings_of(PyObject* o, const char* what) {
  std::vector<std::string> out;
  if (PyUnicode_Check(o)) {
    out.push_back(utf8_of(o, what));
    return out;
  }
  py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(o, what));
  if (!seq) {
    PyErr_Clear();
    fail(ErrorCode::kInvalidArgument, std::string(what) + " must be a string or an iterable of strings");
  }
  const Py_ssize_t m = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** s = PySequence_Fast_ITEMS(seq.ptr());
  for (Py_ssize_t k = 0; k < m; ++k) out.push_back(utf8_of(s[k], what));
  return out;
}

// create_many's items, converted with the C API (several times faster than the generic
// casters on 10,000 items): each (name, scopes) with the call's expiry, or (name, scopes,
// expiry_kind, expiry_us) with an ExpiryKind; either may end with a description (3 or 5
// items); 6 items: (name, scopes, expiry_kind, expiry_us, description, networks), networks an
// iterable of CIDR strings. Scopes: one str, or any iterable of str.
std::vector<NewToken> new_tokens(const py::handle& items, Expiry::Kind kind, std::int64_t value) {
  py::object seq =
      py::reinterpret_steal<py::object>(PySequence_Fast(items.ptr(), "items must be a sequence"));
  if (!seq) {
    PyErr_Clear();
    fail(ErrorCode::kInvalidArgument, "create_many takes a sequence of (name, scopes) items");
  }
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** item = PySequence_Fast_ITEMS(seq.ptr());
  std::vector<NewToken> out(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* it = item[i];
    const Py_ssize_t len = PyTuple_Check(it)  ? PyTuple_GET_SIZE(it)
                           : PyList_Check(it) ? PyList_GET_SIZE(it)
                                              : -1;
    if (len < 2 || len > 6) fail(ErrorCode::kInvalidArgument, "create_many takes (name, scopes) items");
    PyObject* const* f = PyTuple_Check(it) ? &PyTuple_GET_ITEM(it, 0) : &PyList_GET_ITEM(it, 0);
    NewToken& t = out[static_cast<std::size_t>(i)];
    t.name = utf8_of(f[0], "name");
    if (PyUnicode_Check(f[1])) {
      t.scopes.push_back(utf8_of(f[1], "a scope"));
    } else {
      py::object scopes = py::reinterpret_steal<py::object>(PySequence_Fast(f[1], "scopes"));
      if (!scopes) {
        PyErr_Clear();
        fail(ErrorCode::kInvalidArgument, "scopes must be a string or an iterable of strings");
      }
      const Py_ssize_t m = PySequence_Fast_GET_SIZE(scopes.ptr());
      PyObject** s = PySequence_Fast_ITEMS(scopes.ptr());
      for (Py_ssize_t k = 0; k < m; ++k) t.scopes.push_back(utf8_of(s[k], "a scope"));
    }
    const bool own_expiry = len >= 4;
    t.expiry.kind = own_expiry ? py::handle(f[2]).cast<Expiry::Kind>() : kind;
    t.expiry.value_us = own_expiry ? PyLong_AsLongLong(f[3]) : value;
    if (len == 3 || len == 5) t.description = utf8_of(f[len - 1], "description");
    if (len == 6) {
      t.description = utf8_of(f[4], "description");
      try {
        t.networks = strings_of(f[5], "networks");
      } catch (Error& e) {
        e.field = "networks";
        throw;
      }
    }
    if (PyErr_Occurred()) throw py::error_already_set();
  }
  return out;
}

// The token text of a str or bytes argument; empty view (always invalid) for anything else,
// including a str that is not encodable as UTF-8.
std::string_view token_view(const py::handle& h) {
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (p == nullptr) {
      PyErr_Clear();
      return {};
    }
    return {p, static_cast<std::size_t>(n)};
  }
  if (PyBytes_Check(h.ptr()))
    return {PyBytes_AS_STRING(h.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(h.ptr()))};
  return {};
}

// Runs `f` without the GIL and returns its result (built into Python objects afterwards).
template <typename F>
auto released(F&& f) {
  py::gil_scoped_release release;
  return f();
}

// The class of each ErrorCode: tokenkeep.errors.BY_CODE[error_code_name(code)], looked up once
// (errors.py is the one list of classes; a code without a class fails the import of _core).
// Kept for the life of the process, like the classes themselves.
PyObject* error_class(ErrorCode code) {
  static PyObject* const* classes = [] {
    py::dict by_code = py::module_::import("tokenkeep.errors").attr("BY_CODE");
    auto* out = new PyObject*[kErrorCodeCount];
    for (int i = 0; i < kErrorCodeCount; ++i) {
      const char* name = error_code_name(static_cast<ErrorCode>(i));
      if (!by_code.contains(name)) {
        delete[] out;
        throw py::import_error(std::string("tokenkeep.errors declares no class with code '") + name + "'");
      }
      out[i] = py::object(by_code[name]).release().ptr();
    }
    return out;
  }();
  return classes[static_cast<int>(code)];
}

// One C++ outcome -> one instance of its class of tokenkeep.errors.
py::object error_object(const Error& e) {
  py::handle cls = error_class(e.code());
  py::object exc = e.code() == ErrorCode::kInsufficientScope
                       ? cls(e.what(), py::arg("required") = py::frozenset(py::cast(e.required)),
                             py::arg("granted") = py::frozenset(py::cast(e.granted)))
                       : cls(e.what());
  // The argument the error is about, so surfaces can point at their own field or flag.
  exc.attr("field") = e.field.empty() ? py::none() : py::object(py::str(e.field));
  return exc;
}

void raise_error(const Error& e) {
  try {
    py::object exc = error_object(e);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  } catch (py::error_already_set& failed) {
    failed.restore();  // e.g. tokenkeep.errors could not be imported: report that instead
  }
}

}  // namespace tokenkeep::bindings

using namespace tokenkeep::bindings;

PYBIND11_MODULE(_core, m) {
  m.doc() = R"doc(Native engine of tokenkeep. Private: use the `tokenkeep` package.)doc";
  records_init();

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_error(e);
    }
  });

  m.attr("SCHEMA_VERSION") = kSchemaVersion;
  py::tuple codes(kErrorCodeCount);
  for (int i = 0; i < kErrorCodeCount; ++i) codes[i] = error_code_name(static_cast<ErrorCode>(i));
  m.attr("ERROR_CODES") = codes;
  error_class(ErrorCode::kStoreError);  // every code has its class, or the import fails here
  m.attr("TOKEN_BODY_LENGTH") = kBodyWidth;

  py::enum_<Expiry::Kind>(m, "ExpiryKind",
                          R"doc(How a create or rotate chooses the expiry (engine.h, Expiry).)doc")
      .value("DEFAULT", Expiry::Kind::kDefault, R"doc(The store's default lifetime.)doc")
      .value("IN", Expiry::Kind::kIn, R"doc(expiry_us is a duration from now.)doc")
      .value("AT", Expiry::Kind::kAt, R"doc(expiry_us is a time, µs since the epoch, UTC.)doc")
      .value("NEVER", Expiry::Kind::kNever, R"doc(Never expires (where the store allows it).)doc");

  py::class_<Clock, std::shared_ptr<Clock>>(m, "Clock", R"doc(Source of time (abstract).)doc")
      .def("now_us", &Clock::now_us, R"doc(Microseconds since the epoch, UTC.)doc");
  py::class_<ManualClock, Clock, std::shared_ptr<ManualClock>>(m, "ManualClock",
                                                               R"doc(A clock that moves only when told.)doc")
      .def(py::init<std::int64_t>(), py::arg("now_us"))
      .def("set_us", &ManualClock::set_us, py::arg("now_us"))
      .def("advance_us", &ManualClock::advance_us, py::arg("delta_us"));

  verifier_register(m);

  m.def(
      "record_types",
      [](py::type token_info, py::type issued) {
        for (PyObject* t : {token_info.ptr(), issued.ptr()}) {
          if (!PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(t), &PyTuple_Type)) {
            throw py::type_error("record types must be tuple subclasses");
          }
        }
        // Kept for the life of the process (module globals, like the classes themselves).
        record_types_set(reinterpret_cast<PyTypeObject*>(token_info.release().ptr()),
                         reinterpret_cast<PyTypeObject*>(issued.release().ptr()));
      },
      py::arg("token_info"), py::arg("issued"),
      R"doc(Registers the named-tuple classes that records are returned as.)doc");

  m.def(
      "store_location_kind",
      [](const std::string& spec) {
        switch (store_location_resolve(spec).kind) {
          case StoreLocation::Kind::kMemory:
            return "memory";
          case StoreLocation::Kind::kFile:
            return "file";
          case StoreLocation::Kind::kUrl:
            break;
        }
        return "url";
      },
      py::arg("spec"),
      R"doc("memory", "file" or "url": what kind of store `spec` names (InvalidArgument if none).)doc");
  m.def(
      "token_id_valid", [](const std::string& s) { return token_id_parse(s).has_value(); },
      py::arg("token_id"), R"doc(True if `token_id` has the shape of a public token id.)doc");

  // Verification returns the cache's immutable snapshot itself: pybind11 hands back the same
  // Python object for the same snapshot while one is alive, so the Python layer can keep
  // the TokenInfo it built for it (store.py) and a cache hit allocates nothing.
  py::class_<CachedToken, std::shared_ptr<CachedToken>>(m, "Verified",
                                                        R"doc(A verified token's record (opaque).)doc")
      .def(
          "info", [](const CachedToken& t) { return to_tuple(t); }, R"doc(TokenInfo fields as a tuple.)doc");

  py::class_<Engine> engine(m, "Engine", R"doc(One open token store.)doc");
  engine_extras_register(engine);
  engine
      .def(py::init([](const std::string& path, std::optional<std::string> prefix,
                       std::optional<std::vector<std::pair<std::string, std::vector<std::string>>>> vocabulary,
                       std::int64_t default_lifetime_us, std::int64_t max_lifetime_us, bool allow_never_expire,
                       int busy_timeout_ms, bool read_only, std::optional<std::string> pepper_hex,
                       std::vector<std::string> previous_peppers_hex, std::shared_ptr<Clock> clock,
                       std::size_t cache_capacity, bool create_dirs, bool strict, double lease_seconds, bool relay,
                       std::optional<std::string> runtime_dir, int pool_size, double pool_idle_seconds,
                       std::string listen_conninfo, bool prepared_statements, bool warm_start) {
             StoreOptions o;
             o.engine.warm_start = warm_start;
             o.pg.strict = strict;
             o.pg.lease_seconds = lease_seconds;
             o.pg.relay = relay;
             o.pg.runtime_dir = runtime_dir.value_or("");
             o.pg.pool_size = pool_size;
             o.pg.pool_idle_seconds = pool_idle_seconds;
             o.pg.listen_conninfo = std::move(listen_conninfo);
             o.pg.prepared_statements = prepared_statements;
             o.create_dirs = create_dirs;
             o.engine.prefix = std::move(prefix);
             if (vocabulary) {
               std::vector<ScopeEntry> entries;
               for (auto& [name, actions] : *vocabulary) entries.push_back({name, actions});
               o.engine.vocabulary = ScopeVocabulary(std::move(entries));
             }
             o.engine.default_lifetime_us = default_lifetime_us;
             o.engine.max_lifetime_us = max_lifetime_us;
             o.engine.allow_never_expire = allow_never_expire;
             o.sqlite.busy_timeout_ms = busy_timeout_ms;
             o.sqlite.read_only = read_only;
             o.pepper_hex = std::move(pepper_hex);
             o.previous_peppers_hex = std::move(previous_peppers_hex);
             o.clock = std::move(clock);
             o.engine.cache_capacity = cache_capacity;
             // The pepper copies made for the call are wiped however the open ends (the
             // caller's Python str is beyond our reach).
             struct Wipe {
               StoreOptions& o;
               ~Wipe() {
                 if (o.pepper_hex) sodium_memzero(o.pepper_hex->data(), o.pepper_hex->size());
                 for (auto& h : o.previous_peppers_hex) sodium_memzero(h.data(), h.size());
               }
             } wipe{o};
             py::gil_scoped_release release;
             return store_open(path, o);
           }),
           py::arg("path"), py::kw_only(), py::arg("prefix") = py::none(), py::arg("vocabulary") = py::none(),
           py::arg("default_lifetime_us"), py::arg("max_lifetime_us"), py::arg("allow_never_expire"),
           py::arg("busy_timeout_ms"), py::arg("read_only"), py::arg("pepper_hex") = py::none(),
           py::arg("previous_peppers_hex") = std::vector<std::string>{}, py::arg("clock") = py::none(),
           py::arg("cache_capacity") = 100000, py::arg("create_dirs") = false, py::arg("strict") = true,
           py::arg("lease_seconds") = 2.0, py::arg("relay") = true, py::arg("runtime_dir") = py::none(),
           py::arg("pool_size") = 4, py::arg("pool_idle_seconds") = 5.0, py::arg("listen_conninfo") = std::string(),
           py::arg("prepared_statements") = true, py::arg("warm_start") = true)
      .def_property_readonly("prefix", &Engine::prefix)
      .def_property_readonly("vocabulary",
                             [](const Engine& e) {
                               std::vector<std::pair<std::string, std::vector<std::string>>> out;
                               for (const auto& x : e.vocabulary().entries()) out.emplace_back(x.name, x.actions);
                               return out;
                             })
      .def("now_us", &Engine::now_us)
      .def(
          "create_many",
          [](Engine& e, const std::string& owner, const py::handle& items, Expiry::Kind kind,
             std::int64_t value, const std::string& actor) {
            std::vector<NewToken> news = new_tokens(items, kind, value);
            std::vector<IssuedToken> ts;
            {
              py::gil_scoped_release release;
              ts = e.create_many(owner, news, actor);
            }
            py::list out(ts.size());
            TupleBuilder build;
            for (std::size_t i = 0; i < ts.size(); ++i) out[i] = issued_tuple(ts[i], build);
            return out;
          },
          py::arg("owner"), py::arg("items"), py::arg("expiry_kind"), py::arg("expiry_us"), py::arg("actor"))
      .def(
          "create_problems",
          [](Engine& e, const std::string& owner, const std::string& name,
             const std::vector<std::string>& scopes, Expiry::Kind kind, std::int64_t value,
             const std::string& description, const std::vector<std::string>& networks) {
            NewToken spec;
            spec.name = name;
            spec.description = description;
            spec.networks = networks;
            spec.scopes = scopes;
            spec.expiry.kind = kind;
            spec.expiry.value_us = value;
            py::list out;
            for (const Error& problem : e.create_problems(owner, spec)) out.append(error_object(problem));
            return out;
          },
          py::arg("owner"), py::arg("name"), py::arg("scopes"), py::arg("expiry_kind"), py::arg("expiry_us"),
          py::arg("description") = "", py::arg("networks") = std::vector<std::string>{},
          R"doc(Every reason create would refuse these values: tokenkeep errors, each with .field.)doc")
      .def(
          "get",
          [](Engine& e, const std::string& owner, const std::string& id) {
            return to_tuple(released([&] { return e.get(owner, id); }));
          },
          py::arg("owner"), py::arg("token_id"))
      .def(
          "query",
          [](Engine& e, const std::optional<std::string>& owner, const std::string& state,
             const std::string& search, const std::vector<std::string>& scopes, const std::string& sort,
             bool descending, std::optional<std::int64_t> limit, std::int64_t offset) {
            TokenQuery q;
            q.owner = owner;
            q.state = token_query_state_parse(state);
            q.search = search;
            q.scopes_any = scopes;
            q.sort = token_query_sort_parse(sort);
            q.descending = descending;
            q.limit = limit ? *limit : TokenQuery::kNoLimit;
            q.offset = offset;
            TokenPage page = released([&] { return e.query(q); });
            return py::make_tuple(to_tuples(page.records), page.total);
          },
          py::arg("owner"), py::arg("state"), py::arg("search"), py::arg("scopes"), py::arg("sort"),
          py::arg("descending"), py::arg("limit"), py::arg("offset"),
          R"doc(One page of a listing (token_query.h): (TokenInfo tuples, total matches).)doc")
      .def(
          "update_scopes",
          [](Engine& e, const std::string& owner, const std::string& id, const std::vector<std::string>& scopes,
             const std::string& actor) {
            return to_tuple(released([&] { return e.update_scopes(owner, id, scopes, actor); }));
          },
          py::arg("owner"), py::arg("token_id"), py::arg("scopes"), py::arg("actor"))
      .def(
          "update_description",
          [](Engine& e, const std::string& owner, const std::string& id, const std::string& description,
             const std::string& actor) {
            return to_tuple(released([&] { return e.update_description(owner, id, description, actor); }));
          },
          py::arg("owner"), py::arg("token_id"), py::arg("description"), py::arg("actor"))
      .def(
          "update_networks",
          [](Engine& e, const std::string& owner, const std::string& id, const std::vector<std::string>& networks,
             const std::string& actor) {
            return to_tuple(released([&] { return e.update_networks(owner, id, networks, actor); }));
          },
          py::arg("owner"), py::arg("token_id"), py::arg("networks"), py::arg("actor"))
      .def(
          "recent_clients",
          [](Engine& e, const std::string& owner, const std::string& id) {
            const auto clients = released([&] { return e.recent_clients(owner, id); });
            py::list out;
            for (const auto& c : clients) out.append(py::make_tuple(py::str(c.address), utc_datetime(c.at)));
            return out;
          },
          py::arg("owner"), py::arg("token_id"),
          R"doc([(address, last_seen)] newest first: the distinct addresses a token was verified from.)doc")
      .def(
          "recent_clients_many",
          [](Engine& e, const std::string& owner, const std::vector<std::string>& ids) {
            const auto by_id = released([&] { return e.recent_clients_many(owner, ids); });
            py::dict out;
            for (const auto& [id, clients] : by_id) {
              py::list rows;
              for (const auto& c : clients) rows.append(py::make_tuple(py::str(c.address), utc_datetime(c.at)));
              out[py::str(token_id_format(id))] = rows;
            }
            return out;
          },
          py::arg("owner"), py::arg("token_ids"),
          R"doc({token_id: [(address, last_seen)]} for the owner's live tokens among token_ids.)doc")
      .def("revoke", &Engine::revoke, py::arg("owner"), py::arg("token_id"), py::arg("actor"),
           py::call_guard<py::gil_scoped_release>())
      .def("revoke_many", &Engine::revoke_many, py::arg("owner"), py::arg("token_ids"), py::arg("actor"),
           py::call_guard<py::gil_scoped_release>())
      .def("owner_changed", &Engine::owner_changed, py::arg("owner"), py::call_guard<py::gil_scoped_release>())
      .def(
          "rotate",
          [](Engine& e, const std::string& owner, const std::string& id, const std::string& actor,
             std::optional<Expiry::Kind> expiry_kind, std::int64_t expiry_us) {
            IssuedToken t;
            std::optional<Expiry> expiry;
            if (expiry_kind) expiry = Expiry{*expiry_kind, expiry_us};
            {
              py::gil_scoped_release release;
              t = e.rotate(owner, id, actor, expiry);
            }
            TupleBuilder build;
            return issued_tuple(t, build);
          },
          py::arg("owner"), py::arg("token_id"), py::arg("actor"), py::arg("expiry_kind") = py::none(),
          py::arg("expiry_us") = 0)
      .def("required_mask", &Engine::required_mask, py::arg("scopes"))
      .def(
          "verify",
          [](Engine& e, const py::handle& token, ScopeMask required) {
            const std::string_view text = token_view(token);
            CachedTokenPtr t;
            {
              py::gil_scoped_release release;
              t = e.verify_or_throw(text, required);
            }
            return std::const_pointer_cast<CachedToken>(t);
          },
          py::arg("token"), py::arg("required_mask"))
      .def(
          "check",
          [](Engine& e, const py::handle& token, ScopeMask required) {
            const std::string_view text = token_view(token);
            py::gil_scoped_release release;
            return e.verify(text, required, nullptr) == VerifyStatus::kOk;
          },
          py::arg("token"), py::arg("required_mask"))
      .def("uses_flush", &Engine::uses_flush, py::call_guard<py::gil_scoped_release>(),
           R"doc(Persist every recorded use now.)doc")
      .def("cache_size", &Engine::cache_size)
      .def(
          "warm_wait",
          [](const Engine& e, double timeout) {
            WarmStatus s;
            {
              py::gil_scoped_release release;
              s = e.warm_wait(static_cast<std::int64_t>(timeout * 1e6));
            }
            return py::make_tuple(s.done, s.loaded, s.restarts);
          },
          py::arg("timeout"),
          R"doc((done, loaded, restarts) of the warm start, after waiting at most `timeout` seconds.)doc")
      .def(
          "expiring_within",
          [](Engine& e, std::int64_t within_us, const std::optional<std::string>& owner) {
            return to_tuples(released([&] { return e.expiring_within(within_us, owner); }));
          },
          py::arg("within_us"), py::arg("owner"))
      .def("purge", &Engine::purge, py::arg("older_than_us"), py::arg("actor"),
           py::call_guard<py::gil_scoped_release>())
      .def("purge_count", &Engine::purge_count, py::arg("older_than_us"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "subkey",
          [](const Engine& e, const std::string& context) {
            const auto key = e.subkey(context);
            return py::bytes(key.view().data(), key.view().size());
          },
          py::arg("context"))
      .def(
          "audit",
          [](Engine& e, const std::optional<std::string>& owner, std::int64_t limit) {
            std::vector<AuditEvent> events;
            {
              py::gil_scoped_release release;
              events = e.audit(owner, limit);
            }
            py::list out;
            for (const auto& a : events) out.append(audit_tuple(a));
            return out;
          },
          py::arg("owner"), py::arg("limit"));
}
