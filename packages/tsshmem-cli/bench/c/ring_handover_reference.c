/*
 * The reference of the bench's ring section: the hand-over a ring stream
 * does with loans and samples, in C. Two processes ping-pong one element of
 * a BYTES-sized frame: per hop the writer takes the flock, loans the next of
 * two slots (slot sequence odd, the reader's hold re-checked), writes one
 * element, publishes (slot count, write time, sequence even, head, count),
 * drops the flock and wakes; the reader waits on the count (futex or spin),
 * takes hold of the slot (hold stored, sequence re-checked), reads one
 * element, stores its cursor and releases the hold. No frame is copied, so
 * the cost does not depend on BYTES.
 *
 * usage: ring_handover_reference futex|spin BYTES SECONDS WARMUP_SECONDS INITIATOR_CPU ECHO_CPU LOCK_DIR
 * prints {"samples":N,"medianUs":M,"p99Us":P}
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pingpong_harness.h"
#include "shm_stream.h"

#define SLOTS 2

typedef struct {
  uint64_t head;
  uint64_t seq[SLOTS];
  uint64_t slot_count[SLOTS];
  double slot_time[SLOTS];
  uint64_t cursor;
  uint32_t hold;
  uint32_t writers_waiting;
} ring_control;

typedef struct {
  shm_stream stream; /* meta: count, notify, waiters; data: SLOTS slots; the lock file */
  ring_control *ring;
  size_t bytes;
} ring;

typedef struct {
  int spin;
  uint32_t *echo_ready;
  uint32_t *stop;
  ring ping;
  ring pong;
  /* The initiator's: the count of the last pong it read. */
  double last_pong;
} session;

static void ring_create(ring *r, const char *lock_dir, const char *tag, size_t bytes) {
  stream_create(&r->stream, lock_dir, tag, bytes * SLOTS);
  r->bytes = bytes;
  r->ring = mmap(NULL, sizeof *r->ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (r->ring == MAP_FAILED) fail("mmap");
}

/* Loan, one element written in place, publish. */
static void send_value(ring *r, float value) {
  while (flock(r->stream.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) fail("flock");
  }
  ring_control *c = r->ring;
  uint64_t index = __atomic_load_n(&c->head, __ATOMIC_ACQUIRE) + 1;
  uint32_t slot = (uint32_t)((index - 1) % SLOTS);
  if (__atomic_load_n(&c->hold, __ATOMIC_SEQ_CST) == slot + 1) fail("slot held");
  __atomic_store_n(&c->seq[slot], 2 * index - 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&c->hold, __ATOMIC_SEQ_CST) == slot + 1) fail("slot held");
  ((float *)(r->stream.data + slot * r->bytes))[0] = value;
  double count = load_field(r->stream.meta, FIELD_COUNT, __ATOMIC_RELAXED) + 1;
  double now = unix_seconds();
  __atomic_store_n(&c->slot_count[slot], (uint64_t)count, __ATOMIC_RELAXED);
  c->slot_time[slot] = now;
  __atomic_store_n(&c->seq[slot], 2 * index, __ATOMIC_RELEASE);
  __atomic_store_n(&c->head, index, __ATOMIC_RELEASE);
  store_field(r->stream.meta, FIELD_WRITE_TIME, now, __ATOMIC_RELAXED);
  store_field(r->stream.meta, FIELD_COUNT, count, __ATOMIC_RELEASE);
  flock(r->stream.lock_fd, LOCK_UN);
  stream_notify(&r->stream);
}

/* Wait, take hold of the next frame, read one element, release. */
static float receive_value(session *s, ring *r, double *last_count) {
  *last_count = s->spin ? stream_wait_spinning(&r->stream, *last_count) : stream_wait_sleeping(&r->stream, *last_count);
  ring_control *c = r->ring;
  uint64_t index = c->cursor + 1;
  uint32_t slot = (uint32_t)((index - 1) % SLOTS);
  if (__atomic_load_n(&c->head, __ATOMIC_ACQUIRE) < index) fail("no frame");
  if (__atomic_load_n(&c->seq[slot], __ATOMIC_ACQUIRE) != 2 * index) fail("frame gone");
  __atomic_store_n(&c->hold, slot + 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&c->seq[slot], __ATOMIC_SEQ_CST) != 2 * index) fail("frame gone");
  float value = ((volatile float *)(r->stream.data + slot * r->bytes))[0];
  __atomic_store_n(&c->cursor, index, __ATOMIC_SEQ_CST);
  (void)__atomic_load_n(&c->writers_waiting, __ATOMIC_SEQ_CST);
  __atomic_store_n(&c->hold, 0, __ATOMIC_SEQ_CST);
  (void)__atomic_load_n(&c->writers_waiting, __ATOMIC_SEQ_CST);
  return value;
}

static void run_echo(void *state) {
  session *s = state;
  double last = 0;
  for (;;) {
    float value = receive_value(s, &s->ping, &last);
    if (__atomic_load_n(s->stop, __ATOMIC_SEQ_CST)) return;
    send_value(&s->pong, value);
  }
}

static double one_round_trip_us(void *state, uint32_t round) {
  session *s = state;
  int64_t start = monotonic_ns();
  send_value(&s->ping, (float)round);
  receive_value(s, &s->pong, &s->last_pong);
  return (double)(monotonic_ns() - start) * 1e-3;
}

static void open_locks(void *state) {
  session *s = state;
  stream_open_lock(&s->ping.stream);
  stream_open_lock(&s->pong.stream);
}

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 8) {
    fprintf(stderr, "usage: %s futex|spin BYTES SECONDS WARMUP_SECONDS INITIATOR_CPU ECHO_CPU LOCK_DIR\n", argv[0]);
    return 2;
  }
  session s = {0};
  s.spin = strcmp(argv[1], "spin") == 0;
  size_t bytes = strtoull(argv[2], NULL, 10);
  uint32_t *flags = mmap(NULL, 2 * sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (flags == MAP_FAILED) fail("mmap");
  s.echo_ready = &flags[0];
  s.stop = &flags[1];
  ring_create(&s.ping, argv[7], "ring-ping", bytes);
  ring_create(&s.pong, argv[7], "ring-pong", bytes);

  pid_t echo = start_echo(atoi(argv[6]), open_locks, run_echo, &s, s.echo_ready);
  run_on_cpu(atoi(argv[5]));
  open_locks(&s);
  await_echo(s.echo_ready);
  stream_unlink(&s.ping.stream);
  stream_unlink(&s.pong.stream);

  size_t count = 0;
  uint32_t next_round = 0;
  double *samples = collect_round_trips(one_round_trip_us, &s, atof(argv[3]), atof(argv[4]), &count, &next_round);
  __atomic_store_n(s.stop, 1, __ATOMIC_SEQ_CST);
  send_value(&s.ping, -1);
  finish_latency(echo, samples, count);
  return 0;
}
