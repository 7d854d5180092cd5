// The verification fast path. TokenStore.verify and TokenStore.check are the bound methods of
// a Verifier: a small CPython type called through vectorcall, so a verification costs one C
// call instead of a Python frame plus a pybind11 dispatch. It maps types and errors like the
// rest of the binding and keeps the two Python-side memos a verification needs:
//   required scopes (the str, or the tuple of them) -> engine scope mask
//   engine snapshot -> the TokenInfo built for it (so a cache hit allocates nothing)
// Every decision is the engine's (Engine::verify); the GIL is released around it.
// The one keyword, `client=` (the caller's address), is found by comparing the interned name's
// pointer: a call without keywords pays one null check for it.
#include <pybind11/pybind11.h>

#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "convert.h"
#include "tokenkeep/engine.h"

namespace tokenkeep::bindings {
namespace {

struct InfoEntry {
  CachedTokenPtr keep;  // holds the snapshot, so its address cannot be reused meanwhile
  PyObject* info;       // strong reference
};
using InfoMap = std::unordered_map<const CachedToken*, InfoEntry>;

struct Verifier {
  PyObject_HEAD
  PyObject* engine_obj;  // the pybind11 Engine (strong); null once closed
  Engine* engine;
  PyObject* masks;  // dict
  InfoMap* infos;
  std::size_t max_infos;
};

void infos_clear(Verifier* v) {
  InfoMap drop;
  drop.swap(*v->infos);
  for (auto& [ptr, e] : drop) Py_DECREF(e.info);
}

bool fail_closed() {
  raise_error(Error(ErrorCode::kStoreError, "the token store is closed"));
  return false;
}

// The scope mask for the scope arguments; memoized per distinct argument (str or tuple).
bool mask_for(Verifier* v, Engine* engine, PyObject* const* scopes, Py_ssize_t n, ScopeMask* out) {
  if (n == 0) {
    *out = 0;
    return true;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!PyUnicode_Check(scopes[i])) {
      Error e(ErrorCode::kInvalidArgument,
              "scopes must be strings: pass each scope as a separate argument, "
              "verify(token, \"device:read\", \"policy\"), not a set or a list");
      e.field = "scopes";
      raise_error(e);
      return false;
    }
  }
  PyObject* key = n == 1 ? scopes[0] : PyTuple_New(n);
  if (key == nullptr) return false;
  if (n > 1) {
    for (Py_ssize_t i = 0; i < n; ++i) {
      Py_INCREF(scopes[i]);
      PyTuple_SET_ITEM(key, i, scopes[i]);
    }
  }
  PyObject* cached = PyDict_GetItemWithError(v->masks, key);  // borrowed
  bool ok = true;
  if (cached != nullptr) {
    *out = PyLong_AsUnsignedLongLong(cached);
  } else if (PyErr_Occurred()) {
    ok = false;
  } else {
    std::vector<std::string> names;
    for (Py_ssize_t i = 0; i < n; ++i) {
      Py_ssize_t len = 0;
      const char* p = PyUnicode_AsUTF8AndSize(scopes[i], &len);
      if (p == nullptr) {
        PyErr_Clear();
        raise_error(Error(ErrorCode::kUnknownScope, "unknown scope (not valid UTF-8)"));
        ok = false;
        break;
      }
      names.emplace_back(p, static_cast<std::size_t>(len));
    }
    if (ok) {
      try {
        *out = engine->required_mask(names);
        if (PyDict_GET_SIZE(v->masks) < 4096) {
          PyObject* value = PyLong_FromUnsignedLongLong(*out);
          ok = value != nullptr && PyDict_SetItem(v->masks, key, value) == 0;
          Py_XDECREF(value);
        }
      } catch (const Error& e) {
        raise_error(e);
        ok = false;
      }
    }
  }
  if (n > 1) Py_DECREF(key);
  return ok;
}

// Runs Engine::verify. A cache hit (half a microsecond of hashing) runs with the GIL held:
// releasing and retaking the GIL costs more than that, and with other threads waiting it can
// cost a whole switch interval. Anything that reads the database runs without the GIL.
// On an engine failure (StoreError) sets the Python exception and returns false.
bool run_verify(Engine* engine, PyObject* token, ScopeMask mask, VerifyStatus* status, CachedTokenPtr* out,
                const IpAddress* client) {
  const std::string_view text = token_view(token);
  try {
    if (auto answered = engine->verify_cached(text, mask, out, client)) {
      *status = *answered;
      return true;
    }
  } catch (const Error& e) {
    raise_error(e);
    return false;
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "tokenkeep: unexpected engine failure");
    return false;
  }
  std::optional<Error> error;
  bool other = false;
  Py_BEGIN_ALLOW_THREADS
  try {
    *status = engine->verify(text, mask, out, client);
  } catch (const Error& e) {
    error = e;
  } catch (...) {
    other = true;
  }
  Py_END_ALLOW_THREADS
  if (error) raise_error(*error);
  if (other) PyErr_SetString(PyExc_RuntimeError, "tokenkeep: unexpected engine failure");
  return !error && !other;
}

// What verify() and check() share: arguments, the engine (held by a strong reference for the
// whole call, so close() on another thread while the GIL is released cannot free it), the
// scope mask, and the verification itself. False with a Python exception set on failure.
struct Call {
  py::object keep_alive;
  Engine* engine = nullptr;
  ScopeMask mask = 0;
  VerifyStatus status = VerifyStatus::kInvalid;
};

// The address of a `client=` value: a str (IPv4 or IPv6 text) or an ipaddress.IPv4Address /
// IPv6Address; None, or text that is no address (a zone id, "testclient", a unix socket's
// ""), is no address - a bound token then fails, an unbound one verifies and records none.
// Any other type is InvalidArgument (field "client"). False with the exception set.
bool client_parse(PyObject* o, IpAddress* out, bool* known) {
  *known = false;
  if (o == Py_None) return true;
  py::object text;
  PyObject* s = o;
  if (!PyUnicode_Check(o)) {
    static PyObject* const types = [] {
      py::module_ ip = py::module_::import("ipaddress");
      return py::make_tuple(ip.attr("IPv4Address"), ip.attr("IPv6Address")).release().ptr();
    }();
    const int is_ip = PyObject_IsInstance(o, types);
    if (is_ip < 0) return false;
    if (is_ip == 0) {
      Error e(ErrorCode::kInvalidArgument, "client must be an IP address as a str (or an ipaddress object)");
      e.field = "client";
      raise_error(e);
      return false;
    }
    text = py::reinterpret_steal<py::object>(PyObject_Str(o));
    if (!text) return false;
    s = text.ptr();
  }
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(s, &n);
  if (p == nullptr) {
    PyErr_Clear();
    return true;
  }
  if (auto a = ip_address_parse(std::string_view(p, static_cast<std::size_t>(n)))) {
    *out = *a;
    *known = true;
  }
  return true;
}

PyObject* g_client_kw = nullptr;  // interned "client"

bool call_run(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, const char* name,
              Call* c, CachedTokenPtr* out) {
  auto* v = reinterpret_cast<Verifier*>(self);
  if (nargs < 1) {
    PyErr_Format(PyExc_TypeError, "%s() needs the token", name);
    return false;
  }
  IpAddress address;
  bool known = false;
  if (kwnames != nullptr) {
    const Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; ++i) {
      PyObject* kw = PyTuple_GET_ITEM(kwnames, i);
      if (kw != g_client_kw && PyUnicode_Compare(kw, g_client_kw) != 0) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", name, kw);
        return false;
      }
      if (!client_parse(args[nargs + i], &address, &known)) return false;
    }
  }
  if (v->engine_obj == nullptr) return fail_closed();
  c->keep_alive = py::reinterpret_borrow<py::object>(v->engine_obj);
  c->engine = v->engine;
  return mask_for(v, c->engine, args + 1, nargs - 1, &c->mask) &&
         run_verify(c->engine, args[0], c->mask, &c->status, out, known ? &address : nullptr);
}

// Whether an invalid token is worth a hint: not text, or text with surrounding whitespace,
// starting with b/B ("Bearer ...") or with a quote ('"tk_..."'). A cheap look at two
// characters, so that a flood of garbage tokens does not pay for a Python call each.
bool may_deserve_hint(PyObject* token) {
  if (PyUnicode_Check(token)) {
    const Py_ssize_t n = PyUnicode_GET_LENGTH(token);
    if (n == 0) return false;
    const Py_UCS4 first = PyUnicode_READ_CHAR(token, 0), last = PyUnicode_READ_CHAR(token, n - 1);
    return Py_UNICODE_ISSPACE(first) || Py_UNICODE_ISSPACE(last) || first == 'B' || first == 'b' ||
           first == '"' || first == '\'';
  }
  if (PyBytes_Check(token)) {
    const Py_ssize_t n = PyBytes_GET_SIZE(token);
    if (n == 0) return false;
    const unsigned char first = PyBytes_AS_STRING(token)[0], last = PyBytes_AS_STRING(token)[n - 1];
    return first <= ' ' || last <= ' ' || first == 'B' || first == 'b' || first == '"' || first == '\'';
  }
  return true;
}

// Adds a note to the pending InvalidToken saying how the argument is wrong (never what it
// holds): tokenkeep._hints.note_token. The message itself stays the one "invalid token".
void add_token_hint(PyObject* token) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (value != nullptr) {
    try {
      py::module_::import("tokenkeep._hints").attr("note_token")(py::handle(value), py::handle(token));
    } catch (py::error_already_set&) {
      // A hint is a courtesy: the InvalidToken is what must reach the caller.
    }
  }
  PyErr_Restore(type, value, tb);
}

PyObject* verifier_verify(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  auto* v = reinterpret_cast<Verifier*>(self);
  Call c;
  CachedTokenPtr t;
  if (!call_run(self, args, nargs, kwnames, "verify", &c, &t)) return nullptr;
  Engine* const engine = c.engine;
  const VerifyStatus status = c.status;
  const ScopeMask mask = c.mask;
  if (status != VerifyStatus::kOk) {
    raise_error(engine->verify_error(status, mask, t.get()));
    if (status == VerifyStatus::kInvalid && may_deserve_hint(args[0])) add_token_hint(args[0]);
    return nullptr;
  }
  auto it = v->infos->find(t.get());
  if (it != v->infos->end()) {
    Py_INCREF(it->second.info);
    return it->second.info;
  }
  PyObject* info = nullptr;
  try {
    info = to_tuple(*t).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
  if (v->infos->size() >= v->max_infos) infos_clear(v);
  Py_INCREF(info);
  const CachedToken* key = t.get();
  v->infos->emplace(key, InfoEntry{std::move(t), info});
  return info;
}

PyObject* verifier_check(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  Call c;
  if (!call_run(self, args, nargs, kwnames, "check", &c, nullptr)) return nullptr;
  return PyBool_FromLong(c.status == VerifyStatus::kOk);
}

PyObject* verifier_close(PyObject* self, PyObject*) {
  auto* v = reinterpret_cast<Verifier*>(self);
  infos_clear(v);
  Py_CLEAR(v->engine_obj);
  v->engine = nullptr;
  Py_RETURN_NONE;
}

PyObject* verifier_len(PyObject* self, PyObject*) {
  return PyLong_FromSize_t(reinterpret_cast<Verifier*>(self)->infos->size());
}

void verifier_dealloc(PyObject* self) {
  auto* v = reinterpret_cast<Verifier*>(self);
  infos_clear(v);
  delete v->infos;
  Py_XDECREF(v->engine_obj);
  Py_XDECREF(v->masks);
  Py_TYPE(self)->tp_free(self);
}

PyMethodDef kVerifierMethods[] = {
    {"verify", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(verifier_verify)),
     METH_FASTCALL | METH_KEYWORDS, "verify(token, *scopes, client=None) -> TokenInfo; raises on failure"},
    {"check", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(verifier_check)),
     METH_FASTCALL | METH_KEYWORDS, "check(token, *scopes, client=None) -> bool"},
    {"close", verifier_close, METH_NOARGS, "Drop the engine and every memo."},
    {"info_count", verifier_len, METH_NOARGS, "TokenInfo objects memoized."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject kVerifierType = [] {
  PyTypeObject t;
  std::memset(&t, 0, sizeof t);
  Py_SET_REFCNT(reinterpret_cast<PyObject*>(&t), 1);  // PyType_Ready fills in the rest
  t.tp_name = "tokenkeep._core.Verifier";
  t.tp_basicsize = sizeof(Verifier);
  t.tp_dealloc = verifier_dealloc;
  t.tp_flags = Py_TPFLAGS_DEFAULT;
  t.tp_doc = "The verification fast path of one TokenStore (see verifier.cc).";
  t.tp_methods = kVerifierMethods;
  return t;
}();

}  // namespace

void verifier_register(py::module_& m) {
  if (PyType_Ready(&kVerifierType) < 0) throw py::error_already_set();
  g_client_kw = PyUnicode_InternFromString("client");  // kept for the life of the process
  if (g_client_kw == nullptr) throw py::error_already_set();
  Py_INCREF(&kVerifierType);
  m.add_object("Verifier", py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&kVerifierType)));
  m.def(
      "verifier_new",
      [](py::object engine, std::size_t max_infos) {
        Engine* e = engine.cast<Engine*>();
        auto* v = PyObject_New(Verifier, &kVerifierType);
        if (v == nullptr) throw py::error_already_set();
        v->engine_obj = engine.release().ptr();
        v->engine = e;
        v->masks = PyDict_New();
        v->infos = new InfoMap();
        v->max_infos = max_infos < 16 ? 16 : max_infos;
        return py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(v));
      },
      py::arg("engine"), py::arg("max_infos"), R"doc(A Verifier for `engine`.)doc");
}

}  // namespace tokenkeep::bindings
