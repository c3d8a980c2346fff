// The shared mappings of this process, registered so that the SIGBUS handler
// (guarded_copy.cc) can tell a fault on one of them (another process
// truncated the object) from any other. One entry per stream holds its
// metadata and data ranges and a lost word: the bits of the mappings whose
// pages were lost. JavaScript reads the lost words through one Int32Array
// (native.lostWords()), one load per check.
//
// Lookups are lock-free and async-signal-safe. A stream's mappings are used
// only by the thread that opened them, so an entry never changes while a
// fault on it is being handled.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsshmem {

// Bits of a lost word; exported as native.Lost.
enum LostBit : int32_t {
  kLostMetadata = 1,
  kLostData = 2,
};

constexpr int kMaxGuardedStreams = 8192;

// A new entry with no ranges, its lost word 0; -1 if all are taken (the
// stream then works unguarded: a fault on it ends the process as before).
int ClaimGuardEntry();
// Registers range `bit` (kLostMetadata or kLostData) of an entry.
void GuardRange(int entry, LostBit bit, void* start, size_t length);
// Before the range is unmapped. The entry is free once both ranges are dropped.
void DropGuardedRange(int entry, LostBit bit);

// The lost word of an entry (0 for -1).
int32_t LostBits(int entry);
// All lost words, kMaxGuardedStreams of them.
int32_t* LostWords();

// In the SIGBUS handler: if address lies in a registered range, marks it lost
// and reports the range; false otherwise.
bool MarkLost(const void* address, void** start, size_t* length);

}  // namespace tsshmem
