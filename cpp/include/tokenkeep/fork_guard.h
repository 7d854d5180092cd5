// fork() with a store open (gunicorn --preload, multiprocessing's fork start method).
//
// The child gets a copy of every lock as it was at the instant of the fork, some held by
// threads that do not exist in the child, and a copy of the data they guard, perhaps
// mid-update. Parts that own locks register a ForkAware here. Around every fork():
//  - prepare(): takes the part's short-held locks (never one held across I/O), so no data
//    they guard is mid-update when the process is copied;
//  - parent(): releases them;
//  - child(): releases them, re-creates the locks held across I/O (their holders are gone;
//    what they guard is re-read or rebuilt), and forgets threads and connections that belong
//    to the parent (never joined, never closed from the child).
// Locks are taken in registration order and, within a part, in its documented lock order.
#pragma once

#include <cstdint>

namespace tokenkeep {

class ForkAware {
 public:
  virtual void fork_prepare() noexcept = 0;
  virtual void fork_parent() noexcept = 0;
  virtual void fork_child() noexcept = 0;

 protected:
  ~ForkAware() = default;
};

void fork_watch(ForkAware* part);
void fork_unwatch(ForkAware* part);

// How many fork()s made this process a child (0 in the original process): one relaxed load
// tells a part it is a copy.
std::uint64_t fork_generation() noexcept;

}  // namespace tokenkeep
