// Wake slots: how a writer wakes every thread that waits for a stream, with
// one hop. A waiting handle claims a slot {pid, token, state} in tsshmem's
// extension area:
//  - WAITING (next(), the event loop waits): the handle has bound a datagram
//    socket in the abstract namespace (no file, gone when the process dies);
//    the writer sends it one byte;
//  - SLEEPING (readNewSync, the thread sleeps in futex(2) on the notify
//    word; or next() whose socket a writer could not reach, slept on by a
//    helper thread, futex_relay.h): the writer makes one futex wake for all
//    of them.
// With nobody waiting a write pays one atomic load. Slots of processes that
// died are reclaimed: a WAITING slot when its socket is gone, a SLEEPING slot
// when a futex wake finds nobody asleep and its pid is dead.
#pragma once
#include <cstdint>

namespace tsshmem {

class WakeSlots {
 public:
  WakeSlots() = default;
  // table: slotCount slots of 16 bytes; waiting: the number of WAITING slots.
  WakeSlots(uint8_t* table, uint32_t slotCount, uint32_t* waiting)
      : table_(table), slot_count_(slotCount), waiting_(waiting) {}

  bool Available() const { return table_ != nullptr; }

  // Reader side. Claim returns a slot index, or -1 if all are taken by live
  // processes (the caller then falls back to polling).
  int Claim(uint32_t pid, uint32_t token) const;
  void Release(int slot) const;
  void EnterWaiting(int slot) const;
  void EnterSleeping(int slot) const;
  void Leave(int slot) const;
  // Leave from WAITING; false if the slot was no longer WAITING: a writer
  // found nobody bound at its socket address (ECONNREFUSED) and reset it.
  bool LeaveWaiting(int slot) const;
  // A slot that changes from WAITING to SLEEPING for good takes token 0:
  // writers send no datagram to a SLEEPING slot's address.
  void SetToken(int slot, uint32_t token) const;

  // Writer side, after bumping the notify word.
  void WakeAll(uint32_t* notify) const;

 private:
  uint32_t* Field(int slot, int field) const { return reinterpret_cast<uint32_t*>(table_ + slot * 16) + field; }
  void Enter(int slot, uint32_t state) const;
  bool Leave(int slot, uint32_t state) const;
  void Send(int slot) const;
  void ReapDeadSleepers() const;

  uint8_t* table_ = nullptr;
  uint32_t slot_count_ = 0;
  uint32_t* waiting_ = nullptr;
};

// The receiving end: a non-blocking datagram socket bound to the abstract
// address of (pid, token).
class WakeSocket {
 public:
  WakeSocket(const WakeSocket&) = delete;
  WakeSocket& operator=(const WakeSocket&) = delete;
  WakeSocket() = default;
  ~WakeSocket();

  // false if no socket could be bound (then the caller polls).
  bool Open(uint32_t pid);
  void Close();
  int fd() const { return fd_; }
  uint32_t token() const { return token_; }
  // Reads and discards one wake byte; the poll reports readable again while more wait.
  void ReceiveOne() const;
  // Whether a wake byte has arrived and is not yet received.
  bool HasPendingWake() const;

 private:
  int fd_ = -1;
  uint32_t token_ = 0;
};

}  // namespace tsshmem
