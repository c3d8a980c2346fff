// The clocks the protocol and the waits measure with, and a plain sleep.
#pragma once
#include <cstdint>

namespace tsshmem {

constexpr int64_t kNoDeadline = INT64_MAX;

int64_t MonotonicNs();
// A duration from JavaScript (any non-negative number of milliseconds) in
// nanoseconds, saturating at INT64_MAX instead of overflowing.
int64_t DurationNs(double ms);
// The monotonic time timeoutMs from now; kNoDeadline for a negative timeout
// or one too far away to count (Number.MAX_SAFE_INTEGER means "forever").
int64_t DeadlineAfterMs(double timeoutMs);
double UnixSeconds();
void SleepNs(int64_t ns);

}  // namespace tsshmem
