// futex(2) on a 32-bit word in a MAP_SHARED mapping, and the clocks the
// waiting loops use.
#pragma once
#include <cstdint>

namespace tsshmem {

constexpr int64_t kNoDeadline = INT64_MAX;

int64_t MonotonicNs();
double UnixSeconds();

// Sleeps while *word == expected, at most timeoutNs. Spurious returns are
// allowed; callers re-check their condition.
void FutexWait(uint32_t* word, uint32_t expected, int64_t timeoutNs);
// Returns how many sleepers were woken.
int FutexWakeAll(uint32_t* word);
void SleepNs(int64_t ns);

}  // namespace tsshmem
