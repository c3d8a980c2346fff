// Waiting for the next completed write on the calling thread: spinning,
// then sleeping in futex(2) on tsshmem's notify word (see
// src/format/extension.ts). Used by readNewSync and by the spin phase of
// asynchronous waits.
#pragma once
#include <atomic>
#include <cstdint>

namespace tsshmem {

// The count field, and tsshmem's futex words when the stream has the
// extension area (null for a pyshmem-created stream).
struct FutexTarget {
  const double* meta = nullptr;
  uint32_t* notify = nullptr;
  uint32_t* sleepers = nullptr;
};

constexpr double kWaitTimedOut = -1;
constexpr double kWaitCancelled = -2;

double LoadCount(const double* meta);

// Returns the first count different from lastCount, or kWaitTimedOut. Spins
// for spinNs first, then sleeps in the kernel, re-checking at least every
// millisecond (pyshmem writers wake nobody).
double WaitForNewCount(const FutexTarget& target, double lastCount, int64_t deadlineNs, int64_t spinNs);

// Bumps the notify word and wakes sleepers, if any are registered.
void NotifySleepers(const FutexTarget& target);

}  // namespace tsshmem
