/* How the C references give up: the failed call and errno's message on stderr, exit code 1. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

static inline void fail(const char *what) {
  perror(what);
  exit(1);
}
