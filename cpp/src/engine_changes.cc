// The engine's changes (engine.h): creates (one or many, all or nothing; the records and
// their secrets made here), edits of scopes, description and networks, revokes (one or many),
// announcing an owner's tokens, and rotation. Each checks its arguments before the repository
// sees them; reads and verification stay in engine.cc.
#include <algorithm>
#include <unordered_set>

#include "tokenkeep/engine.h"
#include "tokenkeep/errors.h"

namespace tokenkeep {

TokenRecord Engine::make_record(const std::string& owner, const NewToken& spec,
                                const std::vector<std::string>& canonical_scopes, std::int64_t id,
                                std::int64_t now) const {
  TokenRecord r;
  r.owner = owner;
  r.name = name_normalize(spec.name);
  r.description = description_normalize(spec.description);
  r.scopes = canonical_scopes;
  r.networks = networks_canonical(spec.networks);
  const std::int64_t exp = expiry_resolve(spec.expiry, now);
  if (exp >= 0) r.expires_at = exp;
  r.created_at = now;
  r.id = id;
  return r;
}

void Engine::secret_issue(TokenRecord* r, IssuedToken* issued, RandomBytes* rng) const {
  SecretPart secret;
  token_generate(prefix_, r->id, &issued->token, &secret, rng);
  const Pepper& pepper = peppers_.current();
  r->digest = pepper.digest(r->id, secret.view());
  r->pepper_id = pepper.fingerprint();
}

IssuedToken Engine::create(const std::string& owner, const NewToken& spec, const std::string& actor) {
  auto out = create_many(owner, {spec}, actor);
  return std::move(out.front());
}

std::vector<IssuedToken> Engine::create_many(const std::string& owner, const std::vector<NewToken>& specs,
                                             const std::string& actor) {
  owner_check(owner);
  actor_check(actor);
  if (specs.empty()) return {};
  const std::int64_t now = clock_->now_us();
  std::vector<IssuedToken> issued(specs.size());
  std::vector<TokenRecord> records;
  records.reserve(specs.size());
  std::unordered_set<std::string_view> names;
  names.reserve(specs.size());
  RandomBytes rng;
  // Random ids, handed out in ascending order: the batch then inserts in key order (each
  // b-tree page touched once) while records are walked in memory order. Ids are public.
  std::vector<std::int64_t> ids(specs.size());
  for (auto& id : ids) id = token_id_generate(&rng);
  std::sort(ids.begin(), ids.end());
  const std::vector<std::string>* last_scopes = nullptr;  // bulk creates mostly repeat one scope set
  std::vector<std::string> canonical;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (last_scopes == nullptr || *last_scopes != specs[i].scopes) {
      canonical = scopes_canonical(specs[i].scopes);
      last_scopes = &specs[i].scopes;
    }
    records.push_back(make_record(owner, specs[i], canonical, ids[i], now));
  }
  for (const auto& r : records) {  // views into `records`, which no longer grows
    secret_shaped_refuse(r.name, "name");
    secret_shaped_refuse(r.description, "description");
    if (!names.insert(r.name).second)
      fail(ErrorCode::kNameTaken, "a token named '" + r.name + "' appears twice", "name");
  }
  // The secrets last, as the store takes the rows: a bulk create on PostgreSQL streams them,
  // and the server inserts while the rest are made.
  std::size_t issued_count = 0;
  repo_->tokens_insert_completing(records, actor.empty() ? owner : actor, now,
                                  [&](std::size_t begin, std::size_t end) {
                                    for (std::size_t i = begin; i < end; ++i)
                                      secret_issue(&records[i], &issued[i], &rng);
                                    issued_count += end - begin;
                                  });
  // A store that inserted rows without their secrets would have made tokens nobody can use.
  if (issued_count != records.size())
    fail(ErrorCode::kStoreError, "the store inserted tokens before their secrets were made");
  for (std::size_t i = 0; i < specs.size(); ++i) issued[i].record = std::move(records[i]);
  return issued;
}

std::vector<Error> Engine::create_problems(const std::string& owner, const NewToken& spec) const {
  std::vector<Error> out;
  auto attempt = [&](const auto& check) {
    try {
      check();
    } catch (const Error& e) {
      out.push_back(e);
    }
  };
  attempt([&] { owner_check(owner); });
  attempt([&] { secret_shaped_refuse(name_normalize(spec.name), "name"); });
  attempt([&] { secret_shaped_refuse(description_normalize(spec.description), "description"); });
  attempt([&] { (void)scopes_canonical(spec.scopes); });
  attempt([&] { (void)networks_canonical(spec.networks); });
  attempt([&] { (void)expiry_resolve(spec.expiry, clock_->now_us()); });
  return out;
}

namespace {

// An edit of a live token: `read` it (NotFound if it is not live), `write` the change (false:
// gone meanwhile, NotFound), and return what was read with `apply` done to it. Read before
// the change, not after: once a change commits nothing is read back, so a link that dies then
// cannot make a change that was made look failed, nor add a second wait on the dead link.
template <typename Read, typename Write, typename Apply>
TokenRecord edit_live(Read read, Write write, Apply apply) {
  TokenRecord r;
  try {
    r = read();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (e.code() != ErrorCode::kStoreError || what.find("nothing was changed") != std::string::npos) throw;
    fail(ErrorCode::kStoreError, what + "; nothing was changed", e.field);  // as a failed change says
  }
  if (!write()) fail(ErrorCode::kNotFound, "no such token", "token_id");
  apply(r);
  return r;
}

}  // namespace

TokenRecord Engine::update_scopes(const std::string& owner, std::string_view token_id,
                                  const std::vector<std::string>& scopes, const std::string& actor) {
  owner_check(owner);
  actor_check(actor);
  const auto canonical = scopes_canonical(scopes);
  const std::int64_t id = id_resolve(token_id);
  return edit_live([&] { return get(owner, token_id); },
                   [&] {
                     return repo_->token_update_scopes(owner, id, canonical, actor.empty() ? owner : actor,
                                                       clock_->now_us());
                   },
                   [&](TokenRecord& r) { r.scopes = canonical; });
}

TokenRecord Engine::update_description(const std::string& owner, std::string_view token_id,
                                       const std::string& description, const std::string& actor) {
  owner_check(owner);
  actor_check(actor);
  const std::string text = description_normalize(description);
  secret_shaped_refuse(text, "description");
  const std::int64_t id = id_resolve(token_id);
  return edit_live([&] { return get(owner, token_id); },
                   [&] {
                     return repo_->token_update_description(owner, id, text, actor.empty() ? owner : actor,
                                                            clock_->now_us());
                   },
                   [&](TokenRecord& r) { r.description = text; });
}

TokenRecord Engine::update_networks(const std::string& owner, std::string_view token_id,
                                    const std::vector<std::string>& networks, const std::string& actor) {
  owner_check(owner);
  actor_check(actor);
  const auto canonical = networks_canonical(networks);
  const std::int64_t id = id_resolve(token_id);
  return edit_live([&] { return get(owner, token_id); },
                   [&] {
                     return repo_->token_update_networks(owner, id, canonical, actor.empty() ? owner : actor,
                                                         clock_->now_us());
                   },
                   [&](TokenRecord& r) { r.networks = canonical; });
}

void Engine::revoke(const std::string& owner, std::string_view token_id, const std::string& actor) {
  revoke_many(owner, {std::string(token_id)}, actor);
}

void Engine::revoke_many(const std::string& owner, const std::vector<std::string>& token_ids,
                         const std::string& actor) {
  owner_check(owner);
  actor_check(actor);
  std::vector<std::int64_t> ids;
  std::unordered_set<std::int64_t> seen;
  ids.reserve(token_ids.size());
  for (const auto& t : token_ids) {
    const std::int64_t id = id_resolve(t);
    if (!seen.insert(id).second)
      fail(ErrorCode::kInvalidArgument, "token id " + t + " is listed twice", "token_id");
    ids.push_back(id);
  }
  if (ids.empty()) return;
  if (!repo_->tokens_revoke(owner, ids, actor.empty() ? owner : actor, clock_->now_us())) {
    fail(ErrorCode::kNotFound,
         token_ids.size() == 1 ? "no such token" : "no such token among the ids given; nothing was revoked",
         "token_id");
  }
}

std::size_t Engine::owner_changed(const std::string& owner) {
  owner_check(owner);
  return repo_->tokens_announce(owner);
}

IssuedToken Engine::rotate(const std::string& owner, std::string_view token_id, const std::string& actor,
                           const std::optional<Expiry>& expiry) {
  owner_check(owner);
  actor_check(actor);
  const std::int64_t id = id_resolve(token_id);
  auto old = repo_->token_find_owned(owner, id);
  if (!old) fail(ErrorCode::kNotFound, "no such token", "token_id");
  const std::int64_t now = clock_->now_us();
  IssuedToken issued;
  // The replacement keeps name and scopes (the repository takes them from the old row in its
  // transaction) and, unless a new one is asked for, the expiry (which never changes).
  TokenRecord r;
  r.owner = owner;
  r.name = old->name;
  r.description = old->description;
  r.scopes = old->scopes;
  r.networks = old->networks;
  r.expires_at = old->expires_at;
  if (expiry) {
    const std::int64_t at = expiry_resolve(*expiry, now);
    r.expires_at = at >= 0 ? std::optional<std::int64_t>(at) : std::nullopt;
  }
  r.created_at = now;
  r.id = token_id_generate();
  secret_issue(&r, &issued, nullptr);
  if (!repo_->token_rotate(owner, id, r, actor.empty() ? owner : actor, now)) {
    fail(ErrorCode::kNotFound, "no such token", "token_id");
  }
  issued.record = std::move(r);
  return issued;
}

}  // namespace tokenkeep
