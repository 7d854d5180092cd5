// Conversions shared by the binding's files (core.cc defines them).
#pragma once

#include <pybind11/pybind11.h>

#include <string_view>

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
// The TokenInfo tuple of a record, an aware UTC datetime, an audit row's tuple (core.cc).
py::object to_tuple(const TokenRecord& r);
py::object utc_datetime(std::int64_t us);
py::tuple audit_tuple(const AuditEvent& a);
// Adds the leak-response and scope-usage methods (extras.cc) to the Engine type.
void engine_extras_register(py::class_<Engine>& engine);

}  // namespace tokenkeep::bindings
