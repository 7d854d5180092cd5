// Conversions shared by the binding's files: records (records.cc), errors and arguments
// (core.cc).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <string_view>
#include <vector>

#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"
#include "tokenkeep/record.h"
#include "tokenkeep/token_cache.h"

namespace tokenkeep::bindings {

namespace py = pybind11;

// Sets the Python exception of tokenkeep.errors that matches `e` (needs the GIL).
void raise_error(const Error& e);
// The token text of a str or bytes argument; an empty (always invalid) view otherwise.
std::string_view token_view(const py::handle& h);
// The TokenInfo of a verified snapshot.
py::object to_tuple(const CachedToken& t);
// Adds the Verifier type (verifier.cc) to the module.
void verifier_register(py::module_& m);
// Imports the datetime C API for records.cc, at module init (raises the Python error if it
// cannot).
void records_init();
// The TokenInfo tuple of a record, an aware UTC datetime, an audit row's tuple (records.cc).
py::object to_tuple(const TokenRecord& r);
py::object utc_datetime(std::int64_t us);
py::tuple audit_tuple(const AuditEvent& a);
// The classes records are returned as (tokenkeep.models' TokenInfo and IssuedToken, tuple
// subclasses, kept for the life of the process); plain tuples until set.
void record_types_set(PyTypeObject* token_info, PyTypeObject* issued);
// Converts many records at once, sharing the Python objects that repeat across them (owner,
// scope sets, timestamps): a bulk create of 10,000 tokens builds a few of each, not 10,000.
class TupleBuilder {
 public:
  TupleBuilder();
  ~TupleBuilder();
  py::object operator()(const TokenRecord& r);

 private:
  struct Memo;
  std::unique_ptr<Memo> m_;
};
py::list to_tuples(const std::vector<TokenRecord>& rs);
// An IssuedToken: secret, info.
py::object issued_tuple(const IssuedToken& t, TupleBuilder& build);
// Adds the leak-response and scope-usage methods (extras.cc) to the Engine type.
void engine_extras_register(py::class_<Engine>& engine);

}  // namespace tokenkeep::bindings
