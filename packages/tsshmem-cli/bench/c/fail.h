/* How the C references give up: the failed call and errno's message on stderr, exit code 1. */
#pragma once
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static inline void fail(const char *what) {
  perror(what);
  exit(1);
}

/*
 * The bench's launcher may be killed (Ctrl-C, SIGKILL): its programs end with
 * it. It names itself in TSSHMEM_BENCH_LAUNCHER, so that a launcher that died
 * before prctl is noticed too.
 */
static inline void end_with_parent(void) {
  const char *launcher = getenv("TSSHMEM_BENCH_LAUNCHER");
  pid_t parent = launcher != NULL ? (pid_t)atoi(launcher) : getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("prctl");
  if (getppid() != parent) exit(1);
}
