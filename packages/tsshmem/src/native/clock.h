// The clocks the protocol and the waits measure with, and a plain sleep.
#pragma once
#include <cstdint>

namespace tsshmem {

constexpr int64_t kNoDeadline = INT64_MAX;

int64_t MonotonicNs();
double UnixSeconds();
void SleepNs(int64_t ns);

}  // namespace tsshmem
