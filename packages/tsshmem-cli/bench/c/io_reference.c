/*
 * The references of the bench's IO section: a write + read round trip of
 * BYTES, in one process, as fast as it goes.
 *
 *   memcpy:   copy the bytes into a shared-memory segment and out again
 *   protocol: one compatible write and one safe read of a pyshmem stream
 *
 * usage: io_reference memcpy|protocol BYTES SECONDS WARMUP_SECONDS LOCK_DIR
 * prints {"iterations":N,"seconds":S}
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_stream.h"
#include "timing.h"

typedef struct {
  shm_stream stream;
  unsigned char *source;
  unsigned char *destination;
  double pid;
} round_trip;

typedef void (*iteration)(round_trip *trip);

static void memcpy_round_trip(round_trip *trip) {
  memcpy(trip->stream.data, trip->source, trip->stream.bytes);
  memcpy(trip->destination, trip->stream.data, trip->stream.bytes);
  keep_memory();
}

static void protocol_round_trip(round_trip *trip) {
  stream_write(&trip->stream, trip->source, trip->pid);
  stream_read(&trip->stream, trip->destination);
  keep_memory();
}

/* Whole batches, doubled while one takes under 2 ms, until `seconds` have passed (as src/bench/measure.ts). */
static double run_for(iteration step, round_trip *trip, double seconds, long *iterations) {
  const int64_t batch_target_ns = 2000000;
  int64_t start = monotonic_ns();
  int64_t end = start + (int64_t)(seconds * 1e9);
  int64_t now = start;
  long batch = 1;
  *iterations = 0;
  do {
    int64_t batch_start = now;
    for (long i = 0; i < batch; i++) step(trip);
    *iterations += batch;
    now = monotonic_ns();
    if (now - batch_start < batch_target_ns) batch *= 2;
  } while (now < end);
  return (double)(now - start) * 1e-9;
}

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 6) {
    fprintf(stderr, "usage: %s memcpy|protocol BYTES SECONDS WARMUP_SECONDS LOCK_DIR\n", argv[0]);
    return 2;
  }
  iteration step = strcmp(argv[1], "protocol") == 0 ? protocol_round_trip : memcpy_round_trip;
  size_t bytes = strtoull(argv[2], NULL, 10);
  round_trip trip = {.pid = (double)getpid()};
  trip.source = malloc(bytes);
  trip.destination = malloc(bytes);
  if (trip.source == NULL || trip.destination == NULL) fail("malloc");
  memset(trip.source, 1, bytes);
  memset(trip.destination, 0, bytes);
  stream_create(&trip.stream, argv[5], "io", bytes);
  stream_open_lock(&trip.stream);
  stream_unlink(&trip.stream);

  long iterations = 0;
  run_for(step, &trip, atof(argv[4]), &iterations);
  double seconds = run_for(step, &trip, atof(argv[3]), &iterations);
  printf("{\"iterations\":%ld,\"seconds\":%.9f}\n", iterations, seconds);
  return 0;
}
