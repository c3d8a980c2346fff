// The ring-stream protocol (docs/format.md, Part 3), free of Node-API: N
// frame slots after the pyshmem payload in the data object, their headers
// and the reader table after tsshmem's extension area in the metadata
// object. Frames are numbered 1, 2, ... (the ring index P); frame P always
// lives in slot (P - 1) mod N. Writers hold the stream's flock; a registered
// reader holds its entry's liveness lock (entry_lock.h) and no other.
#pragma once
#include <cstddef>
#include <cstdint>

#include "protocol/status.h"
#include "wake/wake_slots.h"

namespace tsshmem {
namespace ring {

constexpr uint32_t kHoldsPerReader = 4;
constexpr uint64_t kNoCursor = UINT64_MAX;

// Byte offsets inside the ring control area (which starts at byte 4096 of
// the metadata object); src/format/ring.ts holds the same table.
enum ControlOffset : size_t {
  kHead = 64,            // u64: ring index of the newest published frame, 0 before any
  kProgress = 72,        // u32 futex word: +1 when a reader frees room while writers wait
  kWritersWaiting = 76,  // u32: block-mode writers waiting for room
  kSlotHeaders = 128,    // N x 32 bytes: {u64 seq, u64 count, f64 write time, u64 0}
};
constexpr size_t kSlotHeaderBytes = 32;
constexpr size_t kReaderEntryBytes = 32;  // {u32 pid, u32 pid namespace, u64 cursor, u32 holds[4]}

struct Geometry {
  uint8_t* control = nullptr;  // the ring control area
  uint64_t control_offset = 0;  // its byte offset in the metadata object
  int meta_fd = -1;             // a descriptor of the metadata object, for the entries' liveness locks
  double* meta = nullptr;      // the 32 pyshmem fields
  uint8_t* data = nullptr;     // the data object
  uint64_t slots = 0;
  uint64_t stride = 0;
  uint64_t slots_offset = 0;
  uint64_t frame_bytes = 0;
  uint32_t readers = 0;
  bool block = false;
  bool pyshmem_frame = true;
  uint32_t* notify = nullptr;  // tsshmem's notify word (extension area)
  WakeSlots wake;
};

// What a reader got: its ring index, pyshmem count and write time.
struct FrameInfo {
  uint64_t index = 0;
  double count = 0;
  double write_time = 0;
};

class Ring {
 public:
  explicit Ring(const Geometry& geometry) : g_(geometry) {}

  uint8_t* SlotBytes(uint64_t slot) const { return g_.data + g_.slots_offset + slot * g_.stride; }
  uint64_t SlotOf(uint64_t index) const { return (index - 1) % g_.slots; }
  uint64_t LoadHead() const;
  double MetaCount() const;

  // --- Writer side: the caller holds the stream's flock. ---
  // Chooses the slot for the next frame and marks it being written. In block
  // mode waits up to deadlineNs for every live registered reader to have
  // consumed the frame the slot holds (kNoRoom after that). On kFrame,
  // *index and *slot say what was loaned. ownEntry: the writing handle's own
  // reader entry (-1: none), never judged dead.
  Status BeginWrite(int64_t deadlineNs, int ownEntry, uint64_t* index, uint64_t* slot) const;
  // Publishes the loaned frame (kPublished): slot header, head, the pyshmem payload copy
  // (if kept) and count; then wakes waiters.
  Status Publish(uint64_t index, uint64_t slot) const;
  // Gives a loaned slot back unpublished (it stays marked, as after a crash).
  void Abandon(uint64_t slot) const;

  // --- Reader side. ---
  // A free entry, or one whose owner died, taken with its liveness lock; -1 if none.
  int ClaimReader(uint32_t pid, uint64_t cursor) const;
  void ReleaseReader(int entry) const;
  // The oldest frame newer than *cursor (the reader's last ring index) and
  // newer than lastCount: copies it into destination (when not null) or
  // holds its slot in the reader's hold `hold` (entry >= 0 required). Moves
  // *cursor. kNothingNew if the ring holds nothing newer; *metaCount then is
  // the count seen before looking (wait for it to change).
  Status Take(uint64_t* cursor, double lastCount, void* destination, int entry, uint32_t hold, FrameInfo* info,
              double* metaCount) const;
  // The newest frame, copied; moves *cursor to it.
  Status TakeNewest(uint64_t* cursor, void* destination, FrameInfo* info) const;
  // Frame `index` copied if its slot still holds it (kNothingNew if not).
  Status CopyFrame(uint64_t index, void* destination, FrameInfo* info) const;
  void PublishCursor(int entry, uint64_t cursor) const;
  void ReleaseHold(int entry, uint32_t hold) const;

 private:
  uint64_t* Word64(size_t offset) const { return reinterpret_cast<uint64_t*>(g_.control + offset); }
  uint32_t* Word32(size_t offset) const { return reinterpret_cast<uint32_t*>(g_.control + offset); }
  uint64_t* SlotSeq(uint64_t slot) const { return Word64(kSlotHeaders + slot * kSlotHeaderBytes); }
  uint64_t* SlotCount(uint64_t slot) const { return Word64(kSlotHeaders + slot * kSlotHeaderBytes + 8); }
  double* SlotTime(uint64_t slot) const { return reinterpret_cast<double*>(Word64(kSlotHeaders + slot * kSlotHeaderBytes + 16)); }
  uint64_t EntryOffset(int entry) const { return kSlotHeaders + g_.slots * kSlotHeaderBytes + entry * kReaderEntryBytes; }
  uint8_t* Entry(int entry) const { return g_.control + EntryOffset(entry); }
  uint32_t* EntryPid(int entry) const { return reinterpret_cast<uint32_t*>(Entry(entry)); }
  uint32_t* EntryPidNamespace(int entry) const { return reinterpret_cast<uint32_t*>(Entry(entry) + 4); }
  uint64_t* EntryCursor(int entry) const { return reinterpret_cast<uint64_t*>(Entry(entry) + 8); }
  uint32_t* EntryHold(int entry, uint32_t hold) const { return reinterpret_cast<uint32_t*>(Entry(entry) + 16) + hold; }

  // Whether frame `index` may be written to its slot now: the slot is not
  // held, and (block mode) every live reader consumed what it holds.
  enum class Room { kFree, kHeld, kBlocked };
  Room RoomFor(uint64_t index, uint64_t slot, int ownEntry) const;
  bool ReapIfGone(int entry) const;
  // The entry's liveness lock (entry_lock.h), at its place in the metadata object.
  bool TryLockEntry(int entry) const;
  void UnlockEntry(int entry) const;
  void WakeWriters() const;
  double NextCount() const;

  Geometry g_;
};

}  // namespace ring
}  // namespace tsshmem
