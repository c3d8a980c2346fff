// futex(2) on a 32-bit word in a MAP_SHARED mapping.
#pragma once
#include <cstdint>

namespace tsshmem {

enum class FutexEnd {
  // A FutexWakeAll (or a spurious wake-up) ended the sleep.
  kWoken,
  // The word no longer held the expected value: it changed before we slept.
  kWordChanged,
  kTimedOut,
};

// Sleeps while *word == expected, at most timeoutNs.
FutexEnd FutexWait(uint32_t* word, uint32_t expected, int64_t timeoutNs);
// Returns how many sleepers were woken.
int FutexWakeAll(uint32_t* word);

}  // namespace tsshmem
