#include "protocol/frame_protocol.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include "clock.h"
#include "guard/guarded_copy.h"
#include "protocol/shared_fields.h"
#include "timing.h"

namespace tsshmem {

namespace {

double OwnPid() {
  static const double pid = static_cast<double>(getpid());
  return pid;
}

bool IsOdd(double sequence) { return (static_cast<uint64_t>(sequence) & 1) != 0; }

// The owner record is advisory (pyshmem never reads it to decide anything),
// so relaxed stores suffice; the flock orders the holders.
void RecordOwner(double* meta, double pid, int depth) {
  StoreField(meta, kLockOwnerPid, pid, __ATOMIC_RELAXED);
  StoreField(meta, kLockDepth, depth, __ATOMIC_RELAXED);
}

Status FlockOnce(int fd, int operation) {
  while (flock(fd, operation) != 0) {
    if (errno == EWOULDBLOCK) return Status::kLockBusy;
    if (errno != EINTR) return Status::kSystemError;
  }
  return Status::kLockTaken;
}

Status FlockWithin(int fd, double timeoutMs, double maxPollMs) {
  if (timeoutMs < 0) return FlockOnce(fd, LOCK_EX);
  int64_t deadline = DeadlineAfterMs(timeoutMs);
  int64_t maxPause = DurationNs(maxPollMs);
  int64_t pause = 0;
  for (int attempt = 0;; ++attempt) {
    Status status = FlockOnce(fd, LOCK_EX | LOCK_NB);
    if (status != Status::kLockBusy) return status;
    int64_t left = deadline - MonotonicNs();
    if (left <= 0) return Status::kLockBusy;
    if (attempt < kFlockBackToBackTries) {
      for (int i = 0; i < kFlockPausesPerTry; ++i) CpuRelax();
      continue;
    }
    pause = pause == 0 ? kFlockFirstSleepNs : std::min(pause * 2, maxPause);
    SleepNs(std::min(pause, left));
  }
}

// Ends a lock Publish took itself (lockFd < 0: the caller keeps its lock).
void ReleaseIfTaken(int lockFd, double* meta) {
  if (lockFd >= 0) ReleaseLock(lockFd, meta);
}

}  // namespace

Status TakeLock(int fd, double* meta, double timeoutMs, double maxPollMs) {
  Status status = timeoutMs == 0 ? FlockOnce(fd, LOCK_EX | LOCK_NB) : FlockWithin(fd, timeoutMs, maxPollMs);
  if (status == Status::kLockTaken) RecordOwner(meta, OwnPid(), 1);
  return status;
}

void RecordLockDepth(double* meta, int depth) { RecordOwner(meta, OwnPid(), depth); }

void ReleaseLock(int fd, double* meta) {
  RecordOwner(meta, 0, 0);
  flock(fd, LOCK_UN);
}

Status TryFlock(int fd) { return FlockOnce(fd, LOCK_EX | LOCK_NB); }

void Unflock(int fd) { flock(fd, LOCK_UN); }

Status Publish(const Frame& frame, const void* source, int lockFd) {
  double* meta = frame.meta;
  if (lockFd >= 0) {
    Status taken = TakeLock(lockFd, meta, 0, 0);
    if (taken != Status::kLockTaken) return taken;
  }
  double sequence = LoadField(meta, kWriteSequence, __ATOMIC_RELAXED);
  if (!IsValidCounter(sequence) || !IsValidCounter(LoadField(meta, kCount, __ATOMIC_RELAXED))) {
    ReleaseIfTaken(lockFd, meta);
    return Status::kCorrupt;
  }
  // Odd while we hold the lock means a writer died mid-write: restore parity.
  if (IsOdd(sequence)) sequence += 1;
  StoreField(meta, kWriteSequence, sequence + 1, __ATOMIC_RELAXED);
  // Release fence: the odd sequence is visible before any payload byte;
  // pairs with the acquire fence after a reader's copy (ReadConsistent).
  std::atomic_thread_fence(std::memory_order_release);
  bool copied = source == nullptr ? GuardedZero(frame.payload, frame.payload_bytes)
                                  : GuardedCopy(frame.payload, source, frame.payload_bytes);
  if (copied) {
    StoreField(meta, kCount, LoadField(meta, kCount, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    StoreField(meta, kWriteTime, UnixSeconds(), __ATOMIC_RELAXED);
  }
  // Release store: payload, count and time are visible before the even
  // sequence; pairs with the acquire load that starts a read.
  StoreField(meta, kWriteSequence, copied ? sequence + 2 : sequence, __ATOMIC_RELEASE);
  ReleaseIfTaken(lockFd, meta);
  return copied ? Status::kPublished : Status::kTruncated;
}

double ReadConsistent(const Frame& frame, void* destination, double budgetMs) {
  const double* meta = frame.meta;
  int64_t deadline = -1;
  int64_t yieldAfter = 0;
  for (uint32_t attempt = 1;; ++attempt) {
    // Acquire: pairs with the writer's release store of the even sequence.
    double before = LoadField(meta, kWriteSequence, __ATOMIC_ACQUIRE);
    if (!IsValidCounter(before)) return AsResult(Status::kCorrupt);
    bool odd = IsOdd(before);
    if (!odd) {
      double count = LoadField(meta, kCount, __ATOMIC_RELAXED);
      if (!IsValidCounter(count)) return AsResult(Status::kCorrupt);
      if (!GuardedCopy(destination, frame.payload, frame.payload_bytes)) return AsResult(Status::kTruncated);
      // Acquire fence: the copy is done before the sequence is read again;
      // pairs with the writer's release fence after it made the sequence odd.
      std::atomic_thread_fence(std::memory_order_acquire);
      if (LoadField(meta, kWriteSequence, __ATOMIC_RELAXED) == before) return count;
    }
    CpuRelax();
    if (attempt % kReadTriesPerClockCheck != 0) continue;
    int64_t now = MonotonicNs();
    if (deadline < 0) {
      deadline = DeadlineAfterMs(budgetMs);
      yieldAfter = now + kReadSpinBeforeYieldNs;
    }
    if (now >= deadline) return AsResult(odd ? Status::kWriterStuck : Status::kNeverStable);
    if (now >= yieldAfter) sched_yield();
  }
}

double ReadUnderLock(const Frame& frame, void* destination, bool allowInterrupted) {
  double sequence = LoadField(frame.meta, kWriteSequence, __ATOMIC_ACQUIRE);
  if (!IsValidCounter(sequence)) return AsResult(Status::kCorrupt);
  if (!IsOdd(sequence)) return ReadConsistent(frame, destination, -1);
  if (!allowInterrupted) return AsResult(Status::kInterrupted);
  double count = LoadCount(frame.meta);
  if (count < 0) return count;
  if (!GuardedCopy(destination, frame.payload, frame.payload_bytes)) return AsResult(Status::kTruncated);
  return count;
}

bool RepairSequence(double* meta) {
  double sequence = LoadField(meta, kWriteSequence, __ATOMIC_RELAXED);
  if (!IsValidCounter(sequence) || !IsOdd(sequence)) return false;
  // Release: like the end of a write, for readers that start after it.
  StoreField(meta, kWriteSequence, sequence + 1, __ATOMIC_RELEASE);
  return true;
}

double LoadCount(const double* meta) {
  // Acquire: the loads that follow stay after it. A wait's caller then reads
  // the frame through the seqlock, which alone vouches for the payload.
  double count = LoadField(meta, kCount, __ATOMIC_ACQUIRE);
  return IsValidCounter(count) ? count : AsResult(Status::kCorrupt);
}

}  // namespace tsshmem
