// Conversions shared by the binding's files (core.cc defines them).
#pragma once

#include <pybind11/pybind11.h>

#include <string_view>

#include "tokenkeep/errors.h"
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

}  // namespace tokenkeep::bindings
