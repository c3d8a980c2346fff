// The native layer's own timing policy, in one place. What users choose
// (timeouts, spin, pollInterval) and the read fallback's budgets come from
// TypeScript with each call (src/stream/frame-io.ts, lock.ts); these fixed
// figures are tuned to the machine rather than to the application.
#pragma once
#include <cstdint>

namespace tsshmem {

// A seqlock read re-reads the clock every this many tries ...
constexpr uint32_t kReadTriesPerClockCheck = 64;
// ... and spins this long before it yields the core between tries, so that a
// writer sharing our core can finish.
constexpr int64_t kReadSpinBeforeYieldNs = 1000000;

// Taking a contended lock with a timeout: back-to-back flock tries first (a
// writer that publishes back to back frees the lock for microseconds), each
// followed by this many pause instructions ...
constexpr int kFlockBackToBackTries = 100;
constexpr int kFlockPausesPerTry = 64;
// ... then sleeps, the first this long, doubling up to the caller's pollInterval.
constexpr int64_t kFlockFirstSleepNs = 10000;

// A spinning wait looks at the count after every this many pause instructions.
constexpr int kWaitPausesPerCheck = 32;
// A sleeping wait re-checks the count at least this often: pyshmem writers
// wake nobody.
constexpr int64_t kSleepSliceNs = 1000000;

// The event loop's wait timer ticks this often while a wait may have a
// silent (pyshmem) writer ...
constexpr int64_t kSilentWriterTickNs = 1000000;
// ... and otherwise this often, or at the nearest deadline: a tick costs
// ~20 us of CPU on a virtual machine, so 1 ms ticks alone would cost an idle
// reader about 2% of a core.
constexpr int64_t kIdleTickNs = 10000000;

}  // namespace tsshmem
