// The outcomes of the native protocol (frame_protocol.h, ring/ring_protocol.h)
// and of the waits,
// declared once here and exported to JavaScript as native.Status (addon.cc);
// src/stream/frame-io.ts turns them into errors.
//
// Every value is negative: a read or a wait returns either a count (>= 0) or
// one of these, so the two can never be mistaken for each other.
#pragma once
#include <cstdint>

namespace tsshmem {

enum class Status : int32_t {
  // write: the frame is published (count and time updated, waiters woken).
  kPublished = -1,
  // Taking the lock: taken (the owner pid and depth are recorded) ...
  kLockTaken = -2,
  // ... or held by another descriptor (nothing written) until the timeout.
  kLockBusy = -3,
  // The data object was truncated under this handle: its pages are gone
  // (a copy faulted, or the SIGBUS guard mapped zeros in their place).
  kTruncated = -4,
  // The count or the write sequence is not an integer from 0 to 2^53.
  kCorrupt = -5,
  // A read's budget ran out while the sequence stayed odd (a write in
  // progress, or a writer that died mid-write) ...
  kWriterStuck = -6,
  // ... or while writes kept landing during every copy.
  kNeverStable = -7,
  // Under the lock the sequence is odd: a writer died mid-write.
  kInterrupted = -8,
  // A wait reached its deadline with no new count.
  kTimedOut = -9,
  // A wait was cancelled (cancelWait or close).
  kCancelled = -10,
  // Another process truncated the metadata object after this handle mapped
  // it: its pages are gone (the SIGBUS guard mapped zeros in their place).
  kMetadataLost = -11,
  // A system call failed; the N-API layer throws it with errno and never
  // hands this value to JavaScript.
  kSystemError = -12,
  // Ring streams (ring/ring_protocol.h): a frame was taken ...
  kFrame = -13,
  // ... or the ring holds none newer than the reader's cursor.
  kNothingNew = -14,
  // Block mode: a registered reader has no room yet, or every slot is held.
  kNoRoom = -15,
  // This handle already holds ring::kHoldsPerReader samples.
  kHoldLimit = -16,
  // The reader table is full of live readers: no sample can be held.
  kNoReaderEntry = -17,
};

struct StatusName {
  const char* name;
  Status value;
};

// The names JavaScript sees, in native.Status.
inline constexpr StatusName kStatusNames[] = {
    {"PUBLISHED", Status::kPublished},       {"LOCK_TAKEN", Status::kLockTaken},   {"LOCK_BUSY", Status::kLockBusy},
    {"TRUNCATED", Status::kTruncated},       {"CORRUPT", Status::kCorrupt},        {"WRITER_STUCK", Status::kWriterStuck},
    {"NEVER_STABLE", Status::kNeverStable},  {"INTERRUPTED", Status::kInterrupted}, {"TIMED_OUT", Status::kTimedOut},
    {"CANCELLED", Status::kCancelled},       {"METADATA_LOST", Status::kMetadataLost}, {"SYSTEM_ERROR", Status::kSystemError},
    {"FRAME", Status::kFrame},               {"NOTHING_NEW", Status::kNothingNew},  {"NO_ROOM", Status::kNoRoom},
    {"HOLD_LIMIT", Status::kHoldLimit},      {"NO_READER_ENTRY", Status::kNoReaderEntry},
};

// A status as a count-or-status result.
inline double AsResult(Status status) { return static_cast<double>(status); }

}  // namespace tsshmem
