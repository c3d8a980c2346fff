// Wake slots: how a writer wakes the event loop of every process that awaits
// a stream, with one hop. A waiting handle binds a datagram socket in the
// abstract namespace (no file, gone when the process dies) and claims a slot
// {pid, token, state} in tsshmem's extension area; a writer sends one byte to
// each slot in the WAITING state. With nobody waiting a write pays one
// atomic load.
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
  void LeaveWaiting(int slot) const;

  // Writer side.
  void WakeWaiting() const;

 private:
  uint32_t* Field(int slot, int field) const { return reinterpret_cast<uint32_t*>(table_ + slot * 16) + field; }

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
  int fd() const { return fd_; }
  uint32_t token() const { return token_; }
  // Reads and discards one wake byte; the poll reports readable again while more wait.
  void ReceiveOne() const;

 private:
  int fd_ = -1;
  uint32_t token_ = 0;
};

}  // namespace tsshmem
