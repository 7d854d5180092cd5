// Time in microseconds since the Unix epoch, UTC. The engine reads time only through a
// Clock, so tests can pin and advance it (ManualClock) across the binding.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace tokenkeep {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_us() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_us() const noexcept override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t now_us) : now_(now_us) {}
  std::int64_t now_us() const noexcept override { return now_.load(std::memory_order_acquire); }
  void set_us(std::int64_t t) noexcept { now_.store(t, std::memory_order_release); }
  void advance_us(std::int64_t d) noexcept { now_.fetch_add(d, std::memory_order_acq_rel); }

 private:
  std::atomic<std::int64_t> now_;
};

// Nanoseconds on CLOCK_BOOTTIME: monotonic, and it keeps counting while the system is
// suspended (CLOCK_MONOTONIC stops), so a deadline set before a suspend has passed after it.
// Every coherence deadline (leases, waits, query bounds) is on this clock.
inline std::int64_t boot_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline constexpr std::int64_t kMicrosPerSecond = 1000000;
inline constexpr std::int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

}  // namespace tokenkeep
