// How the waits of one handle ended (SharedMemory.waitStats): the proof, for
// tests and tools, that writers' wakes (not the timer's re-checks) end waits.
#pragma once
#include <cstdint>

namespace tsshmem {

enum class WaitEnd : int {
  // A new count was already there when the wait began, or appeared while it
  // spun on the calling thread.
  kImmediate,
  // A writer's wake ended it: a byte on the wake socket, or a futex wake (or
  // the notify word bumped just before the thread would have slept).
  kWoken,
  // A periodic re-check found the new count: the loop's timer, an open of
  // the lock file, or a sleep slice running out (pyshmem writers wake
  // nobody).
  kRechecked,
  kTimedOut,
  kCancelled,
};

struct WaitStats {
  uint64_t immediate = 0;
  uint64_t woken = 0;
  uint64_t rechecked = 0;
  uint64_t timed_out = 0;
  uint64_t cancelled = 0;

  void Record(WaitEnd end) {
    switch (end) {
      case WaitEnd::kImmediate: ++immediate; break;
      case WaitEnd::kWoken: ++woken; break;
      case WaitEnd::kRechecked: ++rechecked; break;
      case WaitEnd::kTimedOut: ++timed_out; break;
      case WaitEnd::kCancelled: ++cancelled; break;
    }
  }
};

// A wait's result (the new count, or a Status) and how it ended.
struct WaitOutcome {
  double result;
  WaitEnd end;
};

}  // namespace tsshmem
