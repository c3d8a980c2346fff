// The liveness of a ring reader entry (docs/format.md, Part 3, "Reader
// liveness"): its owner holds an OFD write lock on the entry's 32 bytes of
// the metadata object for as long as it is registered. The kernel drops the
// lock when the owner's last descriptor of that open file description
// closes, so when the process dies, whatever its pid namespace; a reused
// pid cannot fake it. Locks of one open file description never conflict
// with each other: a handle never tests its own entry this way.
#pragma once
#include <cstdint>

namespace tsshmem {
namespace ring {

enum class EntryLock { kTaken, kBusy, kFailed };

// F_OFD_SETLK F_WRLCK on [start, start + length) of fd, never waiting:
// kBusy if another open file description holds a lock on it.
EntryLock TryLockEntry(int fd, uint64_t start, uint64_t length);
void UnlockEntry(int fd, uint64_t start, uint64_t length);
// F_OFD_GETLK: whether another open file description holds a lock there (tools).
bool EntryLocked(int fd, uint64_t start, uint64_t length);

}  // namespace ring
}  // namespace tsshmem
