// How a critical read (the cache miss, PgStore::token_find) waits for its answer: spinning
// (reading the socket without sleeping, at most budget_ns(), then sleeping) or sleeping in
// poll() at once (PgConnection::await). Which is faster depends on the machine, and is
// measured, not guessed: on a quiet virtual machine, being put to sleep and woken costs more
// than a loopback answer takes (a miss over TCP: 110 us sleeping, 54-64 us spinning, psycopg
// 170-190 us); on a busy one, or over a Unix socket, sleeping is as fast or faster and
// spinning only burns CPU; against a distant server spinning never catches the answer.
//
// So each connection keeps the recent answer time of both ways (averages, a quarter weight to
// each new read, a read counted at most 2 * kMaxBudgetNs) and spins only while spinning answers
// within the budget and at least kMarginNs sooner than sleeping (a spin costs its time in CPU).
// The budget is what sleeping costs here (its average, from kBudgetNs to kMaxBudgetNs): spinning
// longer than a sleep would take never pays, and up to it a spin that catches the answer is never
// later than the sleep. Where waking is slow (a virtual machine whose idle cores take 300-500 us to
// wake), a read whose answer takes 150 us is still spun for, instead of spinning 100 us in vain and
// then paying the wake-up on top. One read in 16 (or kExploreClear) goes the other way, to notice
// when that changes; a spun read answered within the budget replaces an average that had grown past
// it, so a server that came back close is spun for at once. A single core never spins: the
// spinning would hold back a server on the same machine.
//
// Learning: the first read spins and the second sleeps, to measure both. A connection opened after
// others of the process to the same server starts from what they measured last (PgSpinSeed): the
// costs belong to the machine and the server, not to one connection, so a pool that reconnects
// after an idle spell, or a reopened store, does not pay the learning reads (the forced sleep,
// probes one read in 16) again.
//
// Not counted: a read whose answer was complete before it began to wait (PgConnection::await).
// On loopback the server often runs on the caller's core while the query is sent, and the
// answer is there at once either way. On this VM that was 23-40 % of all misses; counted, they
// pulled sleeping's average down to a few microseconds, and a fifth to a half of all misses
// slept (a real sleep costs 50-300 us there).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace tokenkeep {

// The averages last measured by this process's connections to one server (-1: none yet).
struct PgSpinSeed {
  std::atomic<std::int64_t> spin_ns{-1};
  std::atomic<std::int64_t> sleep_ns{-1};
  void reset() {
    spin_ns.store(-1, std::memory_order_relaxed);
    sleep_ns.store(-1, std::memory_order_relaxed);
  }
  // The seed of `server` (its host and port, PgConnection): one per server for the first
  // kServers, then one shared by the rest. Lock-free, so a fork() never finds it locked.
  static PgSpinSeed& of(const std::string& server);
  static void reset_all();  // tests
  static constexpr int kServers = 16;
};

class PgSpinPolicy {
 public:
  static constexpr std::int64_t kBudgetNs = 100000;
  static constexpr std::int64_t kMaxBudgetNs = 400000;
  static constexpr std::int64_t kMarginNs = 10000;
  static constexpr unsigned kExploreClear = 128;

  // `seed`: where this policy starts from and what it keeps current (nullptr: from nothing).
  explicit PgSpinPolicy(bool cores = std::thread::hardware_concurrency() >= 2, PgSpinSeed* seed = nullptr)
      : cores_(cores), seed_(seed) {
    if (seed_) {
      spin_ns_ = seed_->spin_ns.load(std::memory_order_relaxed);
      sleep_ns_ = seed_->sleep_ns.load(std::memory_order_relaxed);
    }
  }

  // The longest the next spin lasts: what sleeping costs here, within [kBudgetNs, kMaxBudgetNs].
  std::int64_t budget_ns() const { return std::clamp(sleep_ns_, kBudgetNs, kMaxBudgetNs); }

  // Whether the next critical read spins.
  bool spin_next() {
    if (!cores_) return false;
    ++reads_;
    bool spin =
        spin_ns_ < 0 || (sleep_ns_ >= 0 && spin_ns_ <= budget_ns() && spin_ns_ + kMarginNs < sleep_ns_);
    if (spin_ns_ >= 0 && sleep_ns_ < 0) spin = false;  // the second read: measure sleeping
    if (reads_ % explore_every() == 0) spin = !spin;   // explore the other way
    return spin;
  }
  // One read in this many goes the other way: 16, or kExploreClear while spinning answers in
  // under half what sleeping takes. There a probe costs a sleep's wake-up (300-500 us on a
  // virtual machine, against 60-80 us spinning): one read in 16 made 6 % of all misses slow,
  // which set the p99; one in 128 is 0.8 %. Spinning's own answer times still show at once
  // when spinning stops paying; a probe notices sleeping getting cheaper, and keeps the budget
  // (sleeping's average) current: one in 256 left it stale and measured worse.
  unsigned explore_every() const {
    return spin_ns_ >= 0 && sleep_ns_ >= 0 && 2 * spin_ns_ < sleep_ns_ ? kExploreClear : 16;
  }
  // A critical read's answer time, and whether it spun; `waited` false: its answer was there
  // before it waited at all, which says nothing about either way (not counted).
  void answered(bool spun, std::int64_t ns, bool waited = true) {
    if (!waited) return;
    ns = std::min(ns, 2 * kMaxBudgetNs);  // one preempted read must not turn a choice around for long
    std::int64_t& avg = spun ? spin_ns_ : sleep_ns_;
    if (avg < 0 || (spun && ns <= budget_ns() && avg > budget_ns())) {
      avg = ns;
    } else {
      avg = (3 * avg + ns) / 4;
    }
    if (seed_) (spun ? seed_->spin_ns : seed_->sleep_ns).store(avg, std::memory_order_relaxed);
  }
  std::int64_t spin_ns() const { return spin_ns_; }  // -1: not measured yet
  std::int64_t sleep_ns() const { return sleep_ns_; }

 private:
  bool cores_;
  PgSpinSeed* seed_;
  unsigned reads_ = 0;
  std::int64_t spin_ns_ = -1;
  std::int64_t sleep_ns_ = -1;
};

}  // namespace tokenkeep
