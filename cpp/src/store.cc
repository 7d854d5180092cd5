#include "tokenkeep/store.h"

#include <cstdlib>
#include <string_view>

namespace tokenkeep {

std::unique_ptr<Engine> store_open(const std::string& path, const StoreOptions& options) {
  // The database first: a file that is not a database, or a newer schema, must fail before
  // a key file is written beside it.
  auto repository = sqlite_store_open(path, options.sqlite);
  Pepper current = options.pepper_hex ? Pepper::from_hex(*options.pepper_hex) : pepper_load(path_real(path));
  PepperSet peppers(std::move(current));
  for (const auto& hex : options.previous_peppers_hex) peppers.add_previous(Pepper::from_hex(hex));
  if (const char* env = std::getenv("TOKENKEEP_PEPPER_PREVIOUS"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto item = rest.substr(0, comma);
      if (!item.empty()) peppers.add_previous(Pepper::from_hex(item));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::shared_ptr<const Clock> clock = options.clock ? options.clock : std::make_shared<SystemClock>();
  return std::make_unique<Engine>(std::move(repository), std::move(peppers), std::move(clock), options.engine);
}

}  // namespace tokenkeep
