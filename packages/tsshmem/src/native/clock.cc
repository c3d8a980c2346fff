#include "clock.h"

#include <ctime>

namespace tsshmem {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t DurationNs(double ms) {
  double ns = ms * 1e6;
  // Also catches NaN and Infinity: only a finite ns below the limit converts.
  return ns < 9.2e18 ? static_cast<int64_t>(ns) : INT64_MAX;
}

int64_t DeadlineAfterMs(double timeoutMs) {
  if (timeoutMs < 0) return kNoDeadline;
  int64_t now = MonotonicNs();
  int64_t duration = DurationNs(timeoutMs);
  return duration >= kNoDeadline - now ? kNoDeadline : now + duration;
}

double UnixSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void SleepNs(int64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

}  // namespace tsshmem
