// Waiting for the next completed write on the calling thread: spinning,
// then sleeping in futex(2) on tsshmem's notify word (see
// src/format/extension.ts). Used by readNewSync and by the spin phase of
// asynchronous waits.
#pragma once
#include <atomic>
#include <cstdint>

#include "protocol/status.h"
#include "wake/silent_writers.h"
#include "wake/wait_stats.h"
#include "wake/wake_slots.h"

namespace tsshmem {

// The count field, tsshmem's notify word (null for a stream without the
// extension area) and, while sleeping, the wake slot that tells writers
// about this sleeper (-1: none; it then re-checks every sleep slice).
// guard_entry: the stream's entry in the SIGBUS guard's registry, whose
// lost word says whether the metadata (and so the count) is gone. writers:
// whether a writer that wakes nobody may be there (null: assume so).
struct FutexTarget {
  const double* meta = nullptr;
  uint32_t* notify = nullptr;
  WakeSlots slots;
  int slot = -1;
  int guard_entry = -1;
  LockFileWritersCache* writers = nullptr;
};

// The count, kCorrupt, or kMetadataLost once the metadata's pages are gone
// (the zeros the guard mapped there are no count).
double ObserveCount(const double* meta, int guardEntry);

// Returns the first count different from lastCount, Status::kTimedOut, or
// Status::kCorrupt / kMetadataLost (ObserveCount), and how the wait
// ended. Spins for spinNs first, then sleeps in the kernel, re-checking
// every kSilentWriterCheckNs while a writer that wakes nobody may be there,
// else every kIdleCheckNs (timing.h).
WaitOutcome WaitForNewCount(const FutexTarget& target, double lastCount, int64_t deadlineNs, int64_t spinNs);

// After a write: bumps the notify word, then wakes every waiting handle.
void NotifyWaiters(uint32_t* notify, const WakeSlots& slots);

}  // namespace tsshmem
