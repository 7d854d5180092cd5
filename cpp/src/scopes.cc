#include "tokenkeep/scopes.h"

#include <algorithm>

#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

// Vocabulary words: 1-32 chars of [a-z0-9_-], starting with a letter.
bool word_is_valid(std::string_view w) {
  if (w.empty() || w.size() > 32 || !(w[0] >= 'a' && w[0] <= 'z')) return false;
  for (char c : w) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// A printable rendering of a user-supplied scope for error messages.
std::string quoted(std::string_view s) {
  std::string out = "'";
  std::size_t cut = s.size() > 64 ? 64 : s.size();
  // Never cut inside a UTF-8 sequence: the message must stay valid text.
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  for (char c : s.substr(0, cut)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > cut) out += "...";
  return out + "'";
}

// Levenshtein distance, for "did you mean": computed only when a scope is refused.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool is_separator(char c) { return c == ',' || c == ' ' || c == ';' || c == '|' || c == '\t'; }

}  // namespace

// The message for a refused scope: what to do (split a list, the nearest known scope), then
// the vocabulary as people read it: "collection (read, write), device (read, write)".
std::string ScopeVocabulary::unknown_scope_message(std::string_view scope) const {
  std::string msg = "unknown scope " + quoted(scope);
  if (std::any_of(scope.begin(), scope.end(), is_separator)) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= scope.size(); ++i) {
      if (i == scope.size() || is_separator(scope[i])) {
        if (i > start && parts.size() < 8) parts.push_back(quoted(scope.substr(start, i - start)));
        start = i + 1;
      }
    }
    msg += ": one scope per item; give ";
    for (std::size_t i = 0; i < parts.size(); ++i) {
      msg += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
    }
    msg += " separately";
  } else {
    std::string best;
    std::size_t best_distance = std::string::npos;
    for (const auto& e : entries_) {
      for (std::size_t a = 0; a <= e.actions.size(); ++a) {
        const std::string candidate = a == e.actions.size() ? e.name : e.name + ":" + e.actions[a];
        const std::size_t d = edit_distance(scope.substr(0, 100), candidate);
        if (d < best_distance) best_distance = d, best = candidate;
      }
    }
    // Close enough to be a typo: at most a third of the word, and at least one edit.
    if (best_distance != std::string::npos && best_distance <= std::max<std::size_t>(1, best.size() / 3)) {
      msg += " (did you mean '" + best + "'?)";
    }
  }
  msg += "; known scopes: ";
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    msg += (i ? ", " : "") + e.name + " (";
    for (std::size_t a = 0; a < e.actions.size(); ++a) msg += (a ? ", " : "") + e.actions[a];
    msg += ")";
  }
  return msg + ", each alone or as name:action";
}

ScopeVocabulary ScopeVocabulary::default_vocabulary() {
  return ScopeVocabulary(
      {{"collection", {"read", "write"}}, {"device", {"read", "write"}}, {"policy", {"read", "write"}}});
}

ScopeVocabulary::ScopeVocabulary(std::vector<ScopeEntry> entries) : entries_(std::move(entries)) {
  if (entries_.empty())
    fail(ErrorCode::kInvalidArgument, "a scope vocabulary needs at least one scope", "vocabulary");
  unsigned bit = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    if (!word_is_valid(e.name)) {
      fail(ErrorCode::kInvalidArgument,
           "invalid scope name " + quoted(e.name) + ": use 1-32 of a-z, 0-9, _ and -, starting with a letter",
           "vocabulary");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (entries_[j].name == e.name)
        fail(ErrorCode::kInvalidArgument, "duplicate scope " + quoted(e.name), "vocabulary");
    }
    if (e.actions.empty())
      fail(ErrorCode::kInvalidArgument, "scope " + quoted(e.name) + " needs at least one action",
           "vocabulary");
    for (std::size_t a = 0; a < e.actions.size(); ++a) {
      if (!word_is_valid(e.actions[a]))
        fail(ErrorCode::kInvalidArgument, "invalid action " + quoted(e.actions[a]), "vocabulary");
      for (std::size_t b = 0; b < a; ++b) {
        if (e.actions[b] == e.actions[a])
          fail(ErrorCode::kInvalidArgument, "duplicate action " + quoted(e.actions[a]), "vocabulary");
      }
    }
    if (bit + e.actions.size() > 64)
      fail(ErrorCode::kInvalidArgument, "a scope vocabulary holds at most 64 name:action pairs",
           "vocabulary");
    name_bits_.emplace_back(ScopeMask{1} << bit, static_cast<std::uint8_t>(e.actions.size()));
    bit += static_cast<unsigned>(e.actions.size());
  }
}

std::string ScopeVocabulary::serialize() const {
  std::string s;
  for (const auto& e : entries_) {
    if (!s.empty()) s += ';';
    s += e.name + ':';
    for (std::size_t a = 0; a < e.actions.size(); ++a) s += (a ? "," : "") + e.actions[a];
  }
  return s;
}

ScopeVocabulary ScopeVocabulary::parse(std::string_view text) {
  std::vector<ScopeEntry> entries;
  for (auto part : split(text, ';')) {
    const auto colon = part.find(':');
    if (colon == std::string_view::npos) fail(ErrorCode::kStoreError, "stored scope vocabulary is corrupt");
    ScopeEntry e{std::string(part.substr(0, colon)), {}};
    for (auto a : split(part.substr(colon + 1), ',')) e.actions.emplace_back(a);
    entries.push_back(std::move(e));
  }
  return ScopeVocabulary(std::move(entries));
}

bool ScopeVocabulary::is_subset_of(const ScopeVocabulary& wider) const {
  for (const auto& e : entries_) {
    for (const auto& a : e.actions) {
      try {
        wider.mask_of(e.name + ":" + a);
      } catch (const Error&) {
        return false;
      }
    }
  }
  return true;
}

ScopeMask ScopeVocabulary::mask_of(std::string_view scope) const {
  const auto colon = scope.find(':');
  const std::string_view name = scope.substr(0, colon);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].name != name) continue;
    const auto [first, count] = name_bits_[i];
    if (colon == std::string_view::npos)
      return ((count == 64 ? ~ScopeMask{0} : (ScopeMask{1} << count) - 1)) * first;
    const std::string_view action = scope.substr(colon + 1);
    const auto& actions = entries_[i].actions;
    for (std::size_t a = 0; a < actions.size(); ++a) {
      if (actions[a] == action) return first << a;
    }
    break;
  }
  fail(ErrorCode::kUnknownScope, unknown_scope_message(scope), "scopes");
}

ScopeMask ScopeVocabulary::mask_of(const std::vector<std::string>& scopes) const {
  if (scopes.empty()) fail(ErrorCode::kInvalidArgument, "at least one scope is required", "scopes");
  ScopeMask m = 0;
  for (const auto& s : scopes) m |= mask_of(s);
  return m;
}

std::vector<std::string> ScopeVocabulary::actions_of(ScopeMask mask) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto [first, count] = name_bits_[i];
    for (std::size_t a = 0; a < count; ++a) {
      if (mask & (first << a)) out.push_back(entries_[i].name + ":" + entries_[i].actions[a]);
    }
  }
  return out;
}

std::vector<std::string> ScopeVocabulary::names_of(ScopeMask mask) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto [first, count] = name_bits_[i];
    const ScopeMask all = (count == 64 ? ~ScopeMask{0} : (ScopeMask{1} << count) - 1) * first;
    if ((mask & all) == all) {
      out.push_back(entries_[i].name);
      continue;
    }
    for (std::size_t a = 0; a < count; ++a) {
      if (mask & (first << a)) out.push_back(entries_[i].name + ":" + entries_[i].actions[a]);
    }
  }
  return out;
}

std::string scopes_join(const std::vector<std::string>& scopes) {
  std::string s;
  for (const auto& x : scopes) {
    if (!s.empty()) s += ' ';
    s += x;
  }
  return s;
}

std::vector<std::string> scopes_split(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (auto p : split(text, ' ')) {
    if (!p.empty()) out.emplace_back(p);
  }
  return out;
}

}  // namespace tokenkeep
