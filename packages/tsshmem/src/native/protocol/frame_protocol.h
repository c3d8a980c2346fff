// The pyshmem frame protocol (docs/format.md, "Writing" and "Reading"), free
// of N-API so that it reads as the spec does: the lock with its owner record,
// the fenced seqlock write, the consistent-copy read, and the repair of a
// sequence left odd by a writer that died mid-write. Every outcome is a
// Status (status.h); the N-API layer (stream.cc, lock.cc) only converts.
//
// The owner pid and depth in the metadata are recorded here and nowhere
// else, for every take, re-entry and release of a stream's lock; TypeScript
// decides when (re-entrancy, timeouts: src/stream/lock.ts).
#pragma once
#include <cstddef>
#include <cstdint>

#include "protocol/status.h"

namespace tsshmem {

// What one handle's frame functions touch: the metadata block and the payload.
struct Frame {
  double* meta = nullptr;
  void* payload = nullptr;
  size_t payload_bytes = 0;
};

// --- The lock (flock(2) on the stream's lock file) --------------------------

// Takes fd's exclusive flock and records this process as owner with depth 1:
// kLockTaken, or kLockBusy if another descriptor still holds it after
// timeoutMs (0: one try; < 0: wait as long as it takes). Between tries it
// backs off up to maxPollMs (timing.h). kSystemError: errno says why.
Status TakeLock(int fd, double* meta, double timeoutMs, double maxPollMs);
// Records the depth of a lock this thread already holds (re-entry or a
// release that leaves it held).
void RecordLockDepth(double* meta, int depth);
// Clears the owner record and releases fd's flock.
void ReleaseLock(int fd, double* meta);

// A bare try and release, recording nothing: for tools that only probe
// whether a lock is held. kLockTaken, kLockBusy or kSystemError.
Status TryFlock(int fd);
void Unflock(int fd);

// --- Frames ----------------------------------------------------------------

// Publishes one frame: source's payload_bytes, or zeros if source is null.
// lockFd >= 0: takes that lock for the write (kLockBusy if held elsewhere,
// nothing written); lockFd < 0: the caller holds the lock. kPublished, or
// kTruncated (the data object shrank under us: sequence restored, count
// unchanged), kCorrupt (count or sequence invalid: nothing written),
// kSystemError. Wakes nobody: the caller notifies waiters after kPublished.
Status Publish(const Frame& frame, const void* source, int lockFd);

// A consistent copy into destination without the lock: the count of the
// copied write, or after budgetMs (< 0: no limit) kWriterStuck (sequence
// stayed odd) or kNeverStable (writes kept landing); kTruncated, kCorrupt.
double ReadConsistent(const Frame& frame, void* destination, double budgetMs);

// A copy while the caller holds the lock, so no write is in progress: the
// count, or kInterrupted if the sequence is odd (a writer died mid-write;
// with allowInterrupted the payload is copied as it is and its count
// returned); kTruncated, kCorrupt.
double ReadUnderLock(const Frame& frame, void* destination, bool allowInterrupted);

// Restores an even sequence left odd by a writer that died mid-write; true
// if it was odd. Only correct while the caller holds the lock.
bool RepairSequence(double* meta);

// The count, or kCorrupt: a hostile negative count is never mistaken for a
// status.
double LoadCount(const double* meta);

}  // namespace tsshmem
