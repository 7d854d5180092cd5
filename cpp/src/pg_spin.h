// How a critical read (the cache miss, PgStore::token_find) waits for its answer: spinning
// (reading the socket without sleeping, at most kBudgetNs, then sleeping) or sleeping in
// poll() at once (PgConnection::await). Which is faster depends on the machine, and is
// measured, not guessed: on a quiet virtual machine, being put to sleep and woken costs more
// than a loopback answer takes (a miss over TCP: 110 us sleeping, 54-64 us spinning, psycopg
// 170-190 us); on a busy one, or over a Unix socket, sleeping is as fast or faster and
// spinning only burns CPU; against a distant server spinning never catches the answer.
//
// So each connection keeps the recent answer time of both ways (averages, a quarter weight to
// each new read, a read counted at most twice the budget) and spins only while spinning answers within the
// budget and at least kMarginNs sooner than sleeping (a spin costs its time in CPU). One read in 16 goes the
// other way, to notice when that changes; a spun read answered within the budget replaces an average that had
// grown past it, so a server that came back close is spun for at once. The first read spins and the second
// sleeps, to measure both. A single core never spins: the spinning would hold back a server on the same
// machine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>

namespace tokenkeep {

class PgSpinPolicy {
 public:
  static constexpr std::int64_t kBudgetNs = 100000;
  static constexpr std::int64_t kMarginNs = 10000;

  explicit PgSpinPolicy(bool cores = std::thread::hardware_concurrency() >= 2) : cores_(cores) {}

  // Whether the next critical read spins.
  bool spin_next() {
    if (!cores_) return false;
    ++reads_;
    bool spin = spin_ns_ < 0 || (sleep_ns_ >= 0 && spin_ns_ <= kBudgetNs && spin_ns_ + kMarginNs < sleep_ns_);
    if (spin_ns_ >= 0 && sleep_ns_ < 0) spin = false;  // the second read: measure sleeping
    if (reads_ % 16 == 0) spin = !spin;                // explore the other way
    return spin;
  }
  // A critical read's answer time, and whether it spun.
  void answered(bool spun, std::int64_t ns) {
    ns = std::min(ns, 2 * kBudgetNs);  // one preempted read must not turn a choice around
    std::int64_t& avg = spun ? spin_ns_ : sleep_ns_;
    if (avg < 0 || (spun && ns <= kBudgetNs && avg > kBudgetNs)) {
      avg = ns;
    } else {
      avg = (3 * avg + ns) / 4;
    }
  }
  std::int64_t spin_ns() const { return spin_ns_; }  // -1: not measured yet
  std::int64_t sleep_ns() const { return sleep_ns_; }

 private:
  bool cores_;
  unsigned reads_ = 0;
  std::int64_t spin_ns_ = -1;
  std::int64_t sleep_ns_ = -1;
};

}  // namespace tokenkeep
