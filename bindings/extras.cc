// tokenkeep._core, continued: the Engine's leak-response and scope-usage methods (engine.h,
// "Leak response and scope usage"), as plain tuples that tokenkeep/hygiene.py wraps.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "convert.h"
#include "tokenkeep/token_format.h"

namespace tokenkeep::bindings {

namespace {

const char* outcome_name(LeakOutcome o) {
  switch (o) {
    case LeakOutcome::kRevoked:
      return "revoked";
    case LeakOutcome::kAlreadyRevoked:
      return "already_revoked";
    case LeakOutcome::kExpired:
      return "expired";
    case LeakOutcome::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace

void engine_extras_register(py::class_<Engine>& engine) {
  engine
      .def(
          "revoke_leaked",
          [](Engine& e, const py::bytes& text, const std::string& actor, const std::string& source,
             bool dry_run, std::size_t max_bytes, std::size_t max_tokens, std::size_t first_line,
             std::size_t first_offset) {
            const std::string_view view = token_view(text);  // `text` stays alive for the call
            std::vector<LeakFinding> found;
            {
              py::gil_scoped_release release;
              found = e.revoke_leaked(view, actor, source, dry_run,
                                      LeakScanOptions{max_bytes, max_tokens, first_line, first_offset});
            }
            py::list out;
            for (const auto& f : found) {
              out.append(py::make_tuple(token_id_format(f.id), outcome_name(f.outcome), f.line, f.offset,
                                        f.record ? to_tuple(*f.record) : py::object(py::none())));
            }
            return out;
          },
          py::arg("text"), py::arg("actor"), py::arg("source"), py::arg("dry_run"), py::arg("max_bytes"),
          py::arg("max_tokens"), py::arg("first_line") = 1, py::arg("first_offset") = 0,
          R"doc([(token_id, outcome, line, offset, TokenInfo | None)] for every token found in `text`.)doc")
      .def(
          "leaked_notices",
          [](Engine& e, const std::string& owner, std::int64_t since_us, std::int64_t limit) {
            std::vector<AuditEvent> events;
            {
              py::gil_scoped_release release;
              events = e.leaked_notices(owner, since_us, limit);
            }
            py::list out;
            for (const auto& a : events) out.append(audit_tuple(a));
            return out;
          },
          py::arg("owner"), py::arg("since_us"), py::arg("limit"))
      .def(
          "scope_usage",
          [](Engine& e, const std::string& owner, const std::vector<std::string>& token_ids,
             std::int64_t within_us) {
            std::vector<ScopeUsage> usage;
            {
              py::gil_scoped_release release;
              usage = e.scope_usage(owner, token_ids, within_us);
            }
            py::list out;
            for (const auto& u : usage) {
              py::dict last;
              for (const auto& s : u.last_used) last[py::str(s.scope)] = utc_datetime(s.at);
              out.append(py::make_tuple(to_tuple(u.record), py::frozenset(py::cast(u.used)),
                                        py::frozenset(py::cast(u.unused)), last));
            }
            return out;
          },
          py::arg("owner"), py::arg("token_ids"), py::arg("within_us"),
          R"doc([(TokenInfo, used, unused, {scope: last_used})] for the owner's tokens named (all if none).)doc");
}

}  // namespace tokenkeep::bindings
