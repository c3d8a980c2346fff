#include "ring_protocol.h"

#include <atomic>
#include <cstring>

#include "clock.h"
#include "guard/guarded_copy.h"
#include "owner.h"
#include "ring/entry_lock.h"
#include "protocol/frame_protocol.h"
#include "protocol/shared_fields.h"
#include "wake/futex.h"
#include "wake/sync_wait.h"

namespace tsshmem {
namespace ring {

namespace {

constexpr uint64_t kMaxCounter = 9007199254740992ULL;  // 2^53
constexpr int64_t kWaitSliceNs = 1000000;
constexpr int kNewestTries = 1 << 20;


bool CompareExchange(uint32_t* word, uint32_t expected, uint32_t desired) {
  return __atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

}  // namespace

// Pairs with the release store of head in Publish: a reader that sees head
// = P sees frame P's slot header and bytes.
uint64_t Ring::LoadHead() const { return __atomic_load_n(Word64(kHead), __ATOMIC_ACQUIRE); }

double Ring::MetaCount() const { return LoadCount(g_.meta); }

// One more than the newest count anywhere: the pyshmem count, or the newest
// ring frame's, should a writer have died between publishing a frame and
// storing the count. Counts then never repeat, so readers can skip frames
// they already delivered (count <= the last they returned).
double Ring::NextCount() const {
  double count = LoadField(g_.meta, kCount, __ATOMIC_RELAXED);
  uint64_t head = LoadHead();
  if (head > 0) {
    uint64_t slot = SlotOf(head);
    // Acquire: pairs with the release store of 2P in Publish (the count
    // stored before it is then visible). Writers hold the flock, so this
    // reads what the previous writer published.
    if (__atomic_load_n(SlotSeq(slot), __ATOMIC_ACQUIRE) == 2 * head) {
      double newest = static_cast<double>(__atomic_load_n(SlotCount(slot), __ATOMIC_RELAXED));
      if (newest > count) count = newest;
    }
  }
  return count + 1;
}

bool Ring::TryLockEntry(int entry) const {
  return ring::TryLockEntry(g_.meta_fd, g_.control_offset + EntryOffset(entry), kReaderEntryBytes) == EntryLock::kTaken;
}

void Ring::UnlockEntry(int entry) const { ring::UnlockEntry(g_.meta_fd, g_.control_offset + EntryOffset(entry), kReaderEntryBytes); }

bool Ring::ReapIfGone(int entry) const {
  // Its lock free means its owner is gone; holding it keeps claimants (who
  // take it first) away while the pid is taken back.
  if (!TryLockEntry(entry)) return false;
  // seq_cst load and CAS: pair with the claimant's CAS and the owner's
  // seq_cst stores (ClaimReader, ReleaseReader), both made under the lock.
  uint32_t pid = __atomic_load_n(EntryPid(entry), __ATOMIC_SEQ_CST);
  // Only the pid is taken back: a new owner resets holds and cursor itself.
  bool reaped = pid != 0 && CompareExchange(EntryPid(entry), pid, 0);
  UnlockEntry(entry);
  return reaped;
}

Ring::Room Ring::RoomFor(uint64_t index, uint64_t slot, int ownEntry) const {
  // The frame this slot holds is at most index - N; block mode needs every
  // live reader's cursor (last ring index consumed) to have reached it.
  uint64_t victim = index > g_.slots ? index - g_.slots : 0;
  bool blocked = false;
  for (uint32_t entry = 0; entry < g_.readers; ++entry) {
    // seq_cst: these loads follow the seq_cst store that marked the slot
    // being written (BeginWrite) and pair with a reader's seq_cst hold store
    // followed by its seq_cst load of the slot's seq (Take): one of the two
    // sees the other.
    if (__atomic_load_n(EntryPid(entry), __ATOMIC_SEQ_CST) == 0) continue;
    bool held = false;
    for (uint32_t hold = 0; hold < kHoldsPerReader; ++hold) {
      held = held || __atomic_load_n(EntryHold(entry, hold), __ATOMIC_SEQ_CST) == slot + 1;
    }
    // seq_cst: pairs with the reader's seq_cst cursor store and its load of
    // writers-waiting (PublishCursor / WakeWriters).
    bool behind = g_.block && victim > 0 && __atomic_load_n(EntryCursor(entry), __ATOMIC_SEQ_CST) < victim;
    // Its own entry's lock does not conflict with the handle itself: never judged.
    if ((held || behind) && static_cast<int>(entry) != ownEntry && ReapIfGone(static_cast<int>(entry))) continue;
    if (held) return Room::kHeld;
    blocked = blocked || behind;
  }
  return blocked ? Room::kBlocked : Room::kFree;
}

Status Ring::BeginWrite(int64_t deadlineNs, int ownEntry, uint64_t* index, uint64_t* slot) const {
  if (!IsValidCounter(LoadField(g_.meta, kCount, __ATOMIC_RELAXED)) ||
      !IsValidCounter(LoadField(g_.meta, kWriteSequence, __ATOMIC_RELAXED)) || LoadHead() >= kMaxCounter) {
    return Status::kCorrupt;
  }
  auto attempt = [&]() -> Status {
    uint64_t head = LoadHead();
    // Skips the slots that readers hold (their frames stay); at most N tries.
    for (uint64_t next = head + 1; next <= head + g_.slots; ++next) {
      uint64_t candidate = SlotOf(next);
      Room room = RoomFor(next, candidate, ownEntry);
      if (room == Room::kBlocked) return Status::kNoRoom;
      if (room == Room::kHeld) continue;
      uint64_t* seq = SlotSeq(candidate);
      // Relaxed: only writers change a slot's seq, and we hold the flock.
      uint64_t before = __atomic_load_n(seq, __ATOMIC_RELAXED);
      // Odd: being written. seq_cst, then the holds are loaded again: pairs
      // with a reader's hold store + seq load in Take (Dekker).
      __atomic_store_n(seq, 2 * next - 1, __ATOMIC_SEQ_CST);
      if (RoomFor(next, candidate, ownEntry) == Room::kFree) {
        // Release fence: the odd seq is visible before any byte the caller
        // then writes into the slot; pairs with a copying reader's acquire
        // fence after its copy, before it loads seq again (Take).
        std::atomic_thread_fence(std::memory_order_release);
        *index = next;
        *slot = candidate;
        return Status::kFrame;
      }
      // A reader took hold meanwhile: give its frame back.
      __atomic_store_n(seq, before, __ATOMIC_SEQ_CST);
    }
    return Status::kNoRoom;
  };
  Status status = attempt();
  if (status != Status::kNoRoom || MonotonicNs() >= deadlineNs) return status;
  uint32_t* waiting = Word32(kWritersWaiting);
  uint32_t* progress = Word32(kProgress);
  // seq_cst: pairs with the reader's seq_cst load of writers-waiting after it
  // stored its cursor or cleared a hold (WakeWriters): either we see its
  // room in attempt(), or it sees us and bumps progress.
  __atomic_fetch_add(waiting, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    uint32_t seen = __atomic_load_n(progress, __ATOMIC_SEQ_CST);
    status = attempt();
    int64_t now = MonotonicNs();
    if (status != Status::kNoRoom || now >= deadlineNs) break;
    FutexWait(progress, seen, deadlineNs - now < kWaitSliceNs ? deadlineNs - now : kWaitSliceNs);
  }
  // seq_cst: as the fetch_add above.
  __atomic_fetch_sub(waiting, 1, __ATOMIC_SEQ_CST);
  return status;
}

Status Ring::Publish(uint64_t index, uint64_t slot) const {
  double count = NextCount();
  double now = UnixSeconds();
  // Relaxed: published by the release store of the slot's seq below.
  __atomic_store_n(SlotCount(slot), static_cast<uint64_t>(count), __ATOMIC_RELAXED);
  uint64_t nowBits;
  std::memcpy(&nowBits, &now, sizeof nowBits);
  __atomic_store_n(reinterpret_cast<uint64_t*>(SlotTime(slot)), nowBits, __ATOMIC_RELAXED);
  // Release: pairs with the reader's acquire load of the slot's seq (Take):
  // count, time and the frame's bytes are visible to whoever sees 2P.
  __atomic_store_n(SlotSeq(slot), 2 * index, __ATOMIC_RELEASE);
  // Release: pairs with the acquire load of head (LoadHead).
  __atomic_store_n(Word64(kHead), index, __ATOMIC_RELEASE);
  Status status = Status::kPublished;
  if (g_.pyshmem_frame) {
    // The pyshmem write protocol (docs/format.md, Writing, steps 3-7) with the
    // slot as the source.
    double sequence = LoadField(g_.meta, kWriteSequence, __ATOMIC_RELAXED);
    if ((static_cast<uint64_t>(sequence) & 1) != 0) sequence += 1;
    StoreField(g_.meta, kWriteSequence, sequence + 1, __ATOMIC_RELAXED);
    // Release fence: the odd sequence is visible before any payload byte
    // changes; pairs with the seqlock reader's acquire fence.
    std::atomic_thread_fence(std::memory_order_release);
    bool copied = GuardedCopy(g_.data, SlotBytes(slot), g_.frame_bytes);
    if (copied) StoreField(g_.meta, kWriteTime, now, __ATOMIC_RELAXED);
    // Release even when a plain store would do for pyshmem: pairs with
    // LoadCount's acquire in the waits, so a reader that sees the new count
    // sees the new head.
    if (copied) StoreField(g_.meta, kCount, count, __ATOMIC_RELEASE);
    // Release: pairs with the seqlock reader's acquire load of the sequence.
    StoreField(g_.meta, kWriteSequence, copied ? sequence + 2 : sequence, __ATOMIC_RELEASE);
    if (!copied) status = Status::kTruncated;
  } else {
    StoreField(g_.meta, kWriteTime, now, __ATOMIC_RELAXED);
    // Release: pairs with LoadCount's acquire (see above).
    StoreField(g_.meta, kCount, count, __ATOMIC_RELEASE);
  }
  NotifyWaiters(g_.notify, g_.wake);
  return status;
}

void Ring::Abandon(uint64_t) const {
  // Nothing to undo: the slot stays marked being written (odd), exactly as
  // when a writer dies mid-loan; the next writer reuses it.
}

int Ring::ClaimReader(uint32_t pid, uint64_t cursor) const {
  for (uint32_t index = 0; index < g_.readers; ++index) {
    int entry = static_cast<int>(index);
    // Its lock free: the entry is free (pid 0) or its owner died. Held until ReleaseReader.
    if (!TryLockEntry(entry)) continue;
    // seq_cst load and CAS: pair with a writer's CAS in ReapIfGone, which
    // also needs the lock; the CAS fails only under a hostile process.
    uint32_t current = __atomic_load_n(EntryPid(entry), __ATOMIC_SEQ_CST);
    if (!CompareExchange(EntryPid(entry), current, pid)) {
      UnlockEntry(entry);
      continue;
    }
    // Informational since liveness is the lock (tools show it).
    __atomic_store_n(EntryPidNamespace(entry), OwnPidNamespace(), __ATOMIC_SEQ_CST);
    // A previous owner's holds and cursor are stale; writers may see them
    // for an instant (they then skip a slot or wait one re-check).
    // seq_cst stores: pair with the writer's seq_cst loads in RoomFor.
    for (uint32_t hold = 0; hold < kHoldsPerReader; ++hold) __atomic_store_n(EntryHold(entry, hold), 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(EntryCursor(entry), cursor, __ATOMIC_SEQ_CST);
    WakeWriters();
    return entry;
  }
  return -1;
}

// seq_cst stores, the pid last: pair with the writer's seq_cst loads in
// RoomFor, which look at holds and cursor only while the pid is set.
void Ring::ReleaseReader(int entry) const {
  for (uint32_t hold = 0; hold < kHoldsPerReader; ++hold) __atomic_store_n(EntryHold(entry, hold), 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(EntryCursor(entry), kNoCursor, __ATOMIC_SEQ_CST);
  __atomic_store_n(EntryPidNamespace(entry), 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(EntryPid(entry), 0, __ATOMIC_SEQ_CST);
  // After the stores: whoever takes the lock next (a claimant, a writer
  // judging liveness) finds the entry free.
  UnlockEntry(entry);
  WakeWriters();
}

void Ring::WakeWriters() const {
  // seq_cst: pairs with the writer's fetch_add of writers-waiting before it
  // re-checks the room (BeginWrite).
  if (__atomic_load_n(Word32(kWritersWaiting), __ATOMIC_SEQ_CST) == 0) return;
  __atomic_fetch_add(Word32(kProgress), 1, __ATOMIC_SEQ_CST);
  FutexWakeAll(Word32(kProgress));
}

void Ring::PublishCursor(int entry, uint64_t cursor) const {
  if (entry < 0) return;
  // seq_cst: pairs with the writer's seq_cst cursor loads in RoomFor.
  __atomic_store_n(EntryCursor(entry), cursor, __ATOMIC_SEQ_CST);
  WakeWriters();
}

void Ring::ReleaseHold(int entry, uint32_t hold) const {
  // seq_cst: pairs with the writer's seq_cst hold loads in RoomFor, then
  // WakeWriters' load of writers-waiting (see there).
  __atomic_store_n(EntryHold(entry, hold), 0, __ATOMIC_SEQ_CST);
  WakeWriters();
}

Status Ring::Take(uint64_t* cursor, double lastCount, void* destination, int entry, uint32_t hold, FrameInfo* info,
                  double* metaCount) const {
  // Before looking at head: a frame published after this load also stores
  // a newer count after it (Publish), so waiting for the count to change
  // from *metaCount cannot miss it.
  *metaCount = MetaCount();
  if (*metaCount < 0) return Status::kCorrupt;
  for (;;) {
    uint64_t head = LoadHead();
    if (head >= kMaxCounter || head < *cursor) return Status::kCorrupt;
    if (head == *cursor) return Status::kNothingNew;
    // Frames older than head - N cannot be in the ring any more.
    if (head - *cursor > g_.slots) *cursor = head - g_.slots;
    uint64_t index = *cursor + 1;
    uint64_t slot = SlotOf(index);
    uint64_t* seq = SlotSeq(slot);
    // Acquire: pairs with the release store of 2P in Publish.
    uint64_t before = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
    if (before > 2 * index) {
      // Overwritten: this reader fell more than N frames behind. The oldest
      // frame that may still be held is head - N + 1.
      *cursor = head > g_.slots && head - g_.slots > index ? head - g_.slots : index;
      continue;
    }
    if (before != 2 * index) {
      // An older frame (or none): ring index P was skipped by a writer
      // because a reader held its slot.
      *cursor = index;
      continue;
    }
    // Relaxed: ordered after the acquire load of seq above; the re-check of
    // seq below discards them if the slot was rewritten meanwhile.
    double count = static_cast<double>(__atomic_load_n(SlotCount(slot), __ATOMIC_RELAXED));
    uint64_t timeBits = __atomic_load_n(reinterpret_cast<uint64_t*>(SlotTime(slot)), __ATOMIC_RELAXED);
    uint64_t after;
    if (destination != nullptr) {
      if (!GuardedCopy(destination, SlotBytes(slot), g_.frame_bytes)) return Status::kTruncated;
      // Acquire fence: the copy's loads complete before the re-check (seqlock).
      std::atomic_thread_fence(std::memory_order_acquire);
      after = __atomic_load_n(seq, __ATOMIC_RELAXED);
    } else {
      // seq_cst store, then seq_cst load: pairs with the writer's seq_cst
      // store of an odd seq followed by its hold loads (BeginWrite).
      __atomic_store_n(EntryHold(entry, hold), static_cast<uint32_t>(slot + 1), __ATOMIC_SEQ_CST);
      after = __atomic_load_n(seq, __ATOMIC_SEQ_CST);
      if (after != before || count <= lastCount) __atomic_store_n(EntryHold(entry, hold), 0, __ATOMIC_SEQ_CST);
    }
    if (after != before) continue;  // overwritten meanwhile: look again
    *cursor = index;
    if (count <= lastCount) continue;  // already delivered (read from the pyshmem payload)
    info->index = index;
    info->count = count;
    std::memcpy(&info->write_time, &timeBits, sizeof timeBits);
    return Status::kFrame;
  }
}

Status Ring::TakeNewest(uint64_t* cursor, void* destination, FrameInfo* info) const {
  for (int tries = 0; tries < kNewestTries; ++tries) {
    uint64_t head = LoadHead();
    if (head >= kMaxCounter) return Status::kCorrupt;
    if (head == 0) return Status::kNothingNew;
    uint64_t slot = SlotOf(head);
    uint64_t* seq = SlotSeq(slot);
    // Acquire: pairs with the release store of 2P in Publish.
    if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != 2 * head) continue;
    double count = static_cast<double>(__atomic_load_n(SlotCount(slot), __ATOMIC_RELAXED));
    uint64_t timeBits = __atomic_load_n(reinterpret_cast<uint64_t*>(SlotTime(slot)), __ATOMIC_RELAXED);
    if (!GuardedCopy(destination, SlotBytes(slot), g_.frame_bytes)) return Status::kTruncated;
    // Acquire fence: the copy completes before the re-check (seqlock).
    std::atomic_thread_fence(std::memory_order_acquire);
    if (__atomic_load_n(seq, __ATOMIC_RELAXED) != 2 * head) continue;
    if (head > *cursor) *cursor = head;
    info->index = head;
    info->count = count;
    std::memcpy(&info->write_time, &timeBits, sizeof timeBits);
    return Status::kFrame;
  }
  return Status::kNothingNew;
}

Status Ring::CopyFrame(uint64_t index, void* destination, FrameInfo* info) const {
  if (index == 0 || index >= kMaxCounter) return Status::kNothingNew;
  uint64_t slot = SlotOf(index);
  uint64_t* seq = SlotSeq(slot);
  // Acquire: pairs with the release store of 2P in Publish.
  if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != 2 * index) return Status::kNothingNew;
  double count = static_cast<double>(__atomic_load_n(SlotCount(slot), __ATOMIC_RELAXED));
  uint64_t timeBits = __atomic_load_n(reinterpret_cast<uint64_t*>(SlotTime(slot)), __ATOMIC_RELAXED);
  if (!GuardedCopy(destination, SlotBytes(slot), g_.frame_bytes)) return Status::kTruncated;
  // Acquire fence: the copy completes before the re-check (seqlock).
  std::atomic_thread_fence(std::memory_order_acquire);
  if (__atomic_load_n(seq, __ATOMIC_RELAXED) != 2 * index) return Status::kNothingNew;
  info->index = index;
  info->count = count;
  std::memcpy(&info->write_time, &timeBits, sizeof timeBits);
  return Status::kFrame;
}

}  // namespace ring
}  // namespace tsshmem
