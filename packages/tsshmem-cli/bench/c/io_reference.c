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

static void memcpy_round_trip(void *state) {
  round_trip *trip = state;
  memcpy(trip->stream.data, trip->source, trip->stream.bytes);
  memcpy(trip->destination, trip->stream.data, trip->stream.bytes);
  keep_memory();
}

static void protocol_round_trip(void *state) {
  round_trip *trip = state;
  stream_write(&trip->stream, trip->source, trip->pid);
  stream_read(&trip->stream, trip->destination);
  keep_memory();
}

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 6) {
    fprintf(stderr, "usage: %s memcpy|protocol BYTES SECONDS WARMUP_SECONDS LOCK_DIR\n", argv[0]);
    return 2;
  }
  void (*step)(void *) = strcmp(argv[1], "protocol") == 0 ? protocol_round_trip : memcpy_round_trip;
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
  run_batches(step, &trip, atof(argv[4]), &iterations);
  double seconds = run_batches(step, &trip, atof(argv[3]), &iterations);
  printf("{\"iterations\":%ld,\"seconds\":%.9f}\n", iterations, seconds);
  return 0;
}
