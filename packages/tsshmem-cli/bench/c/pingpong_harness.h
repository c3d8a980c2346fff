/*
 * The frame of the ping-pong references (pingpong_reference.c,
 * ring_handover_reference.c): the echo forked and pinned, the hand-shake
 * that it is ready, the timed round trips after a warm-up, and the printed
 * median and 99th percentile.
 */
#pragma once
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu_affinity.h"
#include "fail.h"
#include "timing.h"

/*
 * Forks the echo onto echo_cpu: it runs prepare(state), then says it is
 * ready in *ready (a word in a MAP_SHARED mapping), then run(state), and
 * ends with this process.
 */
static inline pid_t start_echo(int echo_cpu, void (*prepare)(void *), void (*run)(void *), void *state, uint32_t *ready) {
  pid_t parent = getpid();
  pid_t echo = fork();
  if (echo < 0) fail("fork");
  if (echo > 0) return echo;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  run_on_cpu(echo_cpu);
  prepare(state);
  __atomic_store_n(ready, 1, __ATOMIC_SEQ_CST);
  run(state);
  _exit(0);
}

static inline void await_echo(const uint32_t *ready) {
  while (!__atomic_load_n(ready, __ATOMIC_SEQ_CST)) usleep(100);
}

/*
 * Round trips for warmup_seconds, then for `seconds`, each timed by
 * round_trip_us(state, round) (rounds count from 1); returns the timed ones
 * in microseconds and the first round not run.
 */
static inline double *collect_round_trips(double (*round_trip_us)(void *, uint32_t), void *state, double seconds,
                                          double warmup_seconds, size_t *count, uint32_t *next_round) {
  size_t capacity = 1 << 16;
  double *samples = malloc(capacity * sizeof *samples);
  if (samples == NULL) fail("malloc");
  int64_t measure_from = monotonic_ns() + (int64_t)(warmup_seconds * 1e9);
  int64_t end = measure_from + (int64_t)(seconds * 1e9);
  *count = 0;
  for (uint32_t round = 1;; round++) {
    double sample = round_trip_us(state, round);
    int64_t now = monotonic_ns();
    if (now < measure_from) continue;
    if (*count == capacity) {
      capacity *= 2;
      samples = realloc(samples, capacity * sizeof *samples);
      if (samples == NULL) fail("realloc");
    }
    samples[(*count)++] = sample;
    if (now >= end) {
      *next_round = round + 1;
      return samples;
    }
  }
}

/* Waits for the echo, then prints {"samples":N,"medianUs":M,"p99Us":P}. */
static inline void finish_latency(pid_t echo, double *samples, size_t count) {
  waitpid(echo, NULL, 0);
  qsort(samples, count, sizeof *samples, compare_doubles);
  printf("{\"samples\":%zu,\"medianUs\":%.3f,\"p99Us\":%.3f}\n", count, percentile(samples, count, 0.5),
         percentile(samples, count, 0.99));
  free(samples);
}
