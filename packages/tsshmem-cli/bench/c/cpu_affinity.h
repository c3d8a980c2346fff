/* Pinning a process to one CPU, so that both sides of a ping-pong run where the bench says. */
#pragma once
#include <sched.h>

#include "fail.h"

/* cpu < 0: leave the process where the scheduler puts it. */
static inline void run_on_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
}
