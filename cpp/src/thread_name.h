// The engine's own threads carry names, so an operator sees them in `top -H`, `ps -L`, perf and
// py-spy: tk-flush (engine_uses.cc), tk-warm (engine_warm.cc), tk-listen and tk-relay
// (pg_coherence.cc). Linux allows 15 bytes.
#pragma once

#include <pthread.h>

namespace tokenkeep {

inline void thread_name(const char* name) noexcept { pthread_setname_np(pthread_self(), name); }

}  // namespace tokenkeep
