// Input rules shared by every surface (CLI, page, Django, notebook, C++ callers): what a token
// name, an owner and an actor may be. Each throws InvalidArgument with the reason and the
// argument's field ("name", "owner", "actor"), never echoing a secret. Rules that need the
// store's token prefix (no token secret inside a name, owner or actor) live in Engine, which
// knows the prefix, and call token_scan_any (token_format.h).
//
// Unicode: text must be valid UTF-8 without control characters (C0, DEL, C1) or format
// characters (category Cf: zero-width characters, bidi embeddings/overrides/isolates, BOM,
// tags), which can make two different names look alike or render one reversed. A name needs
// at least one visible code point (not a mark, space, format character or blank filler).
// Names are expected in NFC; the Python layer normalizes them before they reach the engine.
#pragma once

#include <string>
#include <string_view>

namespace tokenkeep {

// Returns the name stripped of surrounding whitespace (as Python's str.strip()): 1-100
// characters, no control or format characters, at least one visible character.
std::string name_normalize(std::string_view name);
// A token's description (note): stripped as a name; empty allowed; at most 200 characters, no
// control or format characters. Field "description".
std::string description_normalize(std::string_view description);
// Non-empty, at most 256 bytes, no control or format characters.
void owner_validate(std::string_view owner);
// Empty (meaning "the owner") or printable text without format characters.
void actor_validate(std::string_view actor);
// Where a leaked token was found (Engine::revoke_leaked), e.g. a file name: empty or at most
// 256 bytes of text without control or format characters. Field "source".
void source_validate(std::string_view source);

}  // namespace tokenkeep
