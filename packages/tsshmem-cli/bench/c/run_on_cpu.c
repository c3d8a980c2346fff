/*
 * Runs a program pinned to one CPU: the bench starts its Node ping-pong peers
 * through it, to place them as the C references are placed.
 *
 * usage: run_on_cpu CPU PROGRAM [ARGUMENTS...]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpu_affinity.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CPU PROGRAM [ARGUMENTS...]\n", argv[0]);
    return 2;
  }
  run_on_cpu(atoi(argv[1]));
  execv(argv[2], argv + 2);
  fail("execv");
}
