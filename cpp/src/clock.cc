#include "tokenkeep/clock.h"

#include <chrono>

namespace tokenkeep {

std::int64_t SystemClock::now_us() const noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace tokenkeep
