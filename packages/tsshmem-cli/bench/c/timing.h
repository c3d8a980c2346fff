/* Clocks, CPU hints and latency statistics shared by the C reference programs. */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline int64_t monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static inline double unix_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Keeps the compiler from dropping copies whose result nobody reads. */
static inline void keep_memory(void) { __asm__ __volatile__("" ::: "memory"); }

static inline int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values (fraction 0.5: the median). */
static inline double percentile(const double *sorted, size_t count, double fraction) {
  size_t rank = (size_t)(fraction * (double)count + 0.999999999);
  return sorted[rank == 0 ? 0 : rank - 1];
}

/*
 * Runs step(state) in whole batches, doubled while one takes under 2 ms,
 * until `seconds` have passed (as src/bench/measure.ts); returns the seconds
 * taken and sets *iterations.
 */
static inline double run_batches(void (*step)(void *), void *state, double seconds, long *iterations) {
  const int64_t batch_target_ns = 2000000;
  int64_t start = monotonic_ns();
  int64_t end = start + (int64_t)(seconds * 1e9);
  int64_t now = start;
  long batch = 1;
  *iterations = 0;
  do {
    int64_t batch_start = now;
    for (long i = 0; i < batch; i++) step(state);
    *iterations += batch;
    now = monotonic_ns();
    if (now - batch_start < batch_target_ns) batch *= 2;
  } while (now < end);
  return (double)(now - start) * 1e-9;
}
