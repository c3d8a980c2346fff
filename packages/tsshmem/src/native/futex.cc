#include "futex.h"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsshmem {

namespace {

timespec ToTimespec(int64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

}  // namespace

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double UnixSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void FutexWait(uint32_t* word, uint32_t expected, int64_t timeoutNs) {
  // A shared (not FUTEX_PRIVATE) wait: the waker lives in another process.
  timespec timeout = ToTimespec(timeoutNs);
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, nullptr, 0);
}

int FutexWakeAll(uint32_t* word) {
  return static_cast<int>(syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0));
}

void SleepNs(int64_t ns) {
  timespec ts = ToTimespec(ns);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

}  // namespace tsshmem
