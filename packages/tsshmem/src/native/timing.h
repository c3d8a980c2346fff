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

// A waiting reader looks at the count itself (the event loop's timer for
// next(), the end of a sleep slice for readNewSync) this often while a
// silent (pyshmem) writer may be there: pyshmem writers wake nobody ...
constexpr int64_t kSilentWriterCheckNs = 1000000;
// ... and otherwise this often, or at the nearest deadline. On a virtual
// machine a timer tick costs ~20 us of CPU, so 1 ms checks alone would cost
// an idle reader about 2% of a core; and a sleep shorter than the scheduler
// tick (4 ms at HZ=250) arms its CPU's earliest timer, which the hypervisor
// charges on every sleep: ~3 us of each readNewSync wake on this machine kind.
constexpr int64_t kIdleCheckNs = 10000000;

}  // namespace tsshmem
