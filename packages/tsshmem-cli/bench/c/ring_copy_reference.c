/*
 * The reference of the bench's copying-ring rows: what a ring's footprint
 * costs plain memcpy. Per frame one BYTES copy into the next of SLOTS
 * buffers of one shared-memory object (round robin, as a ring's writer
 * fills its slots) and one copy out of it again, in one process, as fast as
 * it goes. SLOTS 1 is the plain stream's pattern (one payload rewritten);
 * the ratio of SLOTS N to SLOTS 1 is the cost of touching N frames' worth
 * of memory instead of one, which no ring protocol can avoid.
 *
 * usage: ring_copy_reference SLOTS BYTES SECONDS WARMUP_SECONDS LOCK_DIR
 * prints {"iterations":N,"seconds":S}
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_stream.h"
#include "timing.h"

typedef struct {
  unsigned char *slots;
  size_t slot_count;
  size_t bytes;
  size_t next;
  unsigned char *source;
  unsigned char *destination;
} rotation;

static void copy_through_next_slot(void *state) {
  rotation *ring = state;
  unsigned char *slot = ring->slots + ring->next * ring->bytes;
  ring->next = (ring->next + 1) % ring->slot_count;
  memcpy(slot, ring->source, ring->bytes);
  memcpy(ring->destination, slot, ring->bytes);
  keep_memory();
}

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 6) {
    fprintf(stderr, "usage: %s SLOTS BYTES SECONDS WARMUP_SECONDS LOCK_DIR\n", argv[0]);
    return 2;
  }
  rotation ring = {.slot_count = strtoull(argv[1], NULL, 10), .bytes = strtoull(argv[2], NULL, 10)};
  if (ring.slot_count == 0) fail("SLOTS must be 1 or more");
  ring.source = malloc(ring.bytes);
  ring.destination = malloc(ring.bytes);
  if (ring.source == NULL || ring.destination == NULL) fail("malloc");
  memset(ring.source, 1, ring.bytes);
  memset(ring.destination, 0, ring.bytes);
  shm_stream stream;
  stream_create(&stream, argv[5], "ring-copy", ring.bytes * ring.slot_count);
  stream_unlink(&stream);
  ring.slots = stream.data;
  /* Every page touched once before measuring, as the bench cycles each ring once through its slots. */
  memset(ring.slots, 0, ring.bytes * ring.slot_count);

  long iterations = 0;
  run_batches(copy_through_next_slot, &ring, atof(argv[4]), &iterations);
  double seconds = run_batches(copy_through_next_slot, &ring, atof(argv[3]), &iterations);
  printf("{\"iterations\":%ld,\"seconds\":%.9f}\n", iterations, seconds);
  return 0;
}
