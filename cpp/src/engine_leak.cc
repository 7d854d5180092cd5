// Leak response: the Engine methods that find tokens in leaked text and revoke them
// (engine.h, "Leak response"). The scan is token_scan's; the decision per token is the same
// digest comparison verification makes, so a forged token (valid checksum, real id, wrong
// secret) is unknown and revokes nothing. The work is bounded (LeakScanOptions) and the
// lookups batched: a text full of forged tokens costs one query per kLeakBatch of them.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {
namespace {

// The audit detail of a leaked token: where it was found, never what.
std::string leak_where(const std::string& source, std::size_t line) {
  const std::string at = "line " + std::to_string(line);
  return source.empty() ? at : source + ", " + at;
}

}  // namespace

std::vector<LeakFinding> Engine::revoke_leaked(std::string_view text, const std::string& actor,
                                               const std::string& source, bool dry_run,
                                               const LeakScanOptions& options) {
  actor_check(actor);
  source_validate(source);
  secret_shaped_refuse(source, "source");
  if (text.size() > options.max_bytes) {
    fail(ErrorCode::kInvalidArgument,
         "the text is " + std::to_string(text.size()) + " bytes, over the limit of " +
             std::to_string(options.max_bytes) + " (max_bytes); scan it in parts",
         "max_bytes");
  }
  // Pass 1, no I/O: the distinct well-formed tokens, where they are, within max_tokens.
  struct Candidate {
    std::size_t offset, line;
    ParsedToken parsed;
  };
  std::vector<Candidate> candidates;
  std::unordered_set<std::string_view> seen;
  std::size_t line = options.first_line, counted = 0;
  for (const TokenSpan& span : token_scan(prefix_, text)) {
    line +=
        static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(counted),
                                            text.begin() + static_cast<std::ptrdiff_t>(span.offset), '\n'));
    counted = span.offset;
    const std::string_view token = text.substr(span.offset, span.length);
    if (!seen.insert(token).second) continue;  // the same token again: one finding
    const auto parsed = token_parse(prefix_, token);
    if (!parsed) continue;  // token_scan returns only what token_parse accepts
    if (candidates.size() == options.max_tokens) {
      fail(ErrorCode::kInvalidArgument,
           "the text holds more than " + std::to_string(options.max_tokens) +
               " distinct well-formed tokens (max_tokens); nothing was looked up or revoked; scan it in "
               "parts or raise the limit",
           "max_tokens");
    }
    candidates.push_back(Candidate{options.first_offset + span.offset, line, *parsed});
  }
  // Pass 2: their rows, kLeakBatch ids per query.
  std::unordered_map<std::int64_t, TokenRecord> rows;
  std::vector<std::int64_t> batch;
  for (std::size_t i = 0; i < candidates.size(); i += kLeakBatch) {
    batch.clear();
    for (std::size_t j = i; j < std::min(candidates.size(), i + kLeakBatch); ++j) {
      batch.push_back(candidates[j].parsed.id);
    }
    for (TokenRecord& r : repo_->tokens_find(batch)) {
      const std::int64_t id = r.id;
      rows.emplace(id, std::move(r));
    }
  }
  // Pass 3: the same digest comparison verification makes.
  const std::int64_t now = clock_->now_us();
  std::vector<LeakFinding> findings;
  findings.reserve(candidates.size());
  std::vector<LeakedToken> live;
  for (const Candidate& c : candidates) {
    LeakFinding f;
    f.id = c.parsed.id;
    f.offset = c.offset;
    f.line = c.line;
    const auto row = rows.find(c.parsed.id);
    const TokenRecord* rec = row == rows.end() ? nullptr : &row->second;
    const Pepper* pepper = rec ? peppers_.find(rec->pepper_id) : nullptr;
    if (pepper == nullptr) {
      (void)peppers_.current().digest(c.parsed.id, c.parsed.secret.view());  // same cost either way
    } else if (digest_equal(pepper->digest(c.parsed.id, c.parsed.secret.view()), rec->digest)) {
      if (rec->revoked_at) {
        f.outcome = LeakOutcome::kAlreadyRevoked;
      } else if (rec->expires_at && now > *rec->expires_at) {
        f.outcome = LeakOutcome::kExpired;
      } else {
        f.outcome = LeakOutcome::kRevoked;
        live.push_back(LeakedToken{rec->id, leak_where(source, c.line)});
      }
      f.record = *rec;
    }
    findings.push_back(std::move(f));
  }
  if (dry_run || live.empty()) return findings;
  const auto revoked =
      repo_->tokens_revoke_leaked(live, actor.empty() ? std::string("leak-scan") : actor, now);
  const std::unordered_set<std::int64_t> done(revoked.begin(), revoked.end());
  for (auto& f : findings) {
    if (f.outcome != LeakOutcome::kRevoked) continue;
    if (done.count(f.id)) {
      f.record->revoked_at = now;
    } else {
      f.outcome = LeakOutcome::kAlreadyRevoked;  // revoked by someone else meanwhile
    }
  }
  return findings;
}

std::vector<AuditEvent> Engine::leaked_notices(const std::string& owner, std::int64_t since_us,
                                               std::int64_t limit) {
  owner_check(owner);
  if (limit <= 0) fail(ErrorCode::kInvalidArgument, "limit must be positive", "limit");
  return repo_->audit_actions(owner, "leaked", since_us, limit);
}

}  // namespace tokenkeep
