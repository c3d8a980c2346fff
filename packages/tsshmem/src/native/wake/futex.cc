#include "wake/futex.h"

#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsshmem {

FutexEnd FutexWait(uint32_t* word, uint32_t expected, int64_t timeoutNs) {
  timespec timeout;
  timeout.tv_sec = static_cast<time_t>(timeoutNs / 1000000000);
  timeout.tv_nsec = static_cast<long>(timeoutNs % 1000000000);
  // A shared (not FUTEX_PRIVATE) wait: the waker lives in another process.
  if (syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, nullptr, 0) == 0) return FutexEnd::kWoken;
  if (errno == EAGAIN) return FutexEnd::kWordChanged;
  // ETIMEDOUT, or EINTR (a signal): either way the caller re-checks.
  return FutexEnd::kTimedOut;
}

int FutexWakeAll(uint32_t* word) {
  return static_cast<int>(syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0));
}

}  // namespace tsshmem
