/*
 * A stream in the pyshmem v2 on-host format (docs/format.md), reduced to what
 * the references need: its own shm objects and lock file, the compatible write
 * (flock, sequence odd, copy, count, time, sequence even, unlock), the safe
 * (seqlock) read, and a notify word with a count of sleepers after byte 256
 * of the metadata object, for futex wakes (the reference's own layout: the
 * simplest futex protocol, which tsshmem's wake slots must match in speed).
 */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fail.h"
#include "timing.h"

enum {
  FIELD_VERSION = 0,
  FIELD_COUNT = 1,
  FIELD_DTYPE = 2,
  FIELD_NDIM = 3,
  FIELD_SIZE = 4,
  FIELD_DEVICE_INDEX = 6,
  FIELD_CREATOR_PID = 7,
  FIELD_WRITE_TIME = 8,
  FIELD_WRITE_SEQUENCE = 9,
  FIELD_LOCK_OWNER_PID = 10,
  FIELD_LOCK_DEPTH = 11,
  FIELD_CPU_MIRROR = 12,
  FIELD_SHAPE = 13,
};

#define META_OBJECT_BYTES 4096
#define NOTIFY_WORD_OFFSET 272
#define WAITER_COUNT_OFFSET 276
#define DTYPE_UINT8 4

typedef struct {
  char meta_name[256];
  char data_name[256];
  char lock_path[4096];
  double *meta;
  uint32_t *notify;
  uint32_t *waiters;
  unsigned char *data;
  size_t bytes;
  int lock_fd;
} shm_stream;

static inline double load_field(const double *meta, int field, int order) {
  uint64_t bits = __atomic_load_n((const uint64_t *)(meta + field), order);
  double value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

static inline void store_field(double *meta, int field, double value, int order) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  __atomic_store_n((uint64_t *)(meta + field), bits, order);
}

static inline int is_odd(double sequence) { return ((uint64_t)sequence & 1) != 0; }

static inline void *create_object(const char *name, size_t bytes) {
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) fail("shm_open");
  if (ftruncate(fd, (off_t)bytes) != 0) fail("ftruncate");
  void *address = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) fail("mmap");
  close(fd);
  return address;
}

/* Creates the objects under names unique to this process and tag; lock files go in lock_dir. */
static inline void stream_create(shm_stream *stream, const char *lock_dir, const char *tag, size_t bytes) {
  int pid = (int)getpid();
  snprintf(stream->meta_name, sizeof stream->meta_name, "/tsshmem-bench-c-%d-%s_meta", pid, tag);
  snprintf(stream->data_name, sizeof stream->data_name, "/tsshmem-bench-c-%d-%s", pid, tag);
  snprintf(stream->lock_path, sizeof stream->lock_path, "%s/tsshmem-bench-c-%d-%s.lock", lock_dir, pid, tag);
  unsigned char *meta = create_object(stream->meta_name, META_OBJECT_BYTES);
  stream->meta = (double *)meta;
  stream->notify = (uint32_t *)(meta + NOTIFY_WORD_OFFSET);
  stream->waiters = (uint32_t *)(meta + WAITER_COUNT_OFFSET);
  stream->data = create_object(stream->data_name, bytes);
  stream->bytes = bytes;
  stream->lock_fd = -1;
  double *fields = stream->meta;
  fields[FIELD_DTYPE] = DTYPE_UINT8;
  fields[FIELD_NDIM] = 1;
  fields[FIELD_SIZE] = (double)bytes;
  fields[FIELD_DEVICE_INDEX] = -1;
  fields[FIELD_CREATOR_PID] = pid;
  fields[FIELD_CPU_MIRROR] = 1;
  fields[FIELD_SHAPE] = (double)bytes;
  fields[FIELD_VERSION] = 2;
}

/* Each process opens its own descriptor: flock excludes open file descriptions, not processes. */
static inline void stream_open_lock(shm_stream *stream) {
  stream->lock_fd = open(stream->lock_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (stream->lock_fd < 0) fail("open lock file");
}

/* The mappings and descriptors stay usable after the names are gone. */
static inline void stream_unlink(const shm_stream *stream) {
  shm_unlink(stream->meta_name);
  shm_unlink(stream->data_name);
  unlink(stream->lock_path);
}

/* docs/format.md, "Writing". */
static inline void stream_write(shm_stream *stream, const void *source, double pid) {
  while (flock(stream->lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) fail("flock");
  }
  double *meta = stream->meta;
  store_field(meta, FIELD_LOCK_OWNER_PID, pid, __ATOMIC_RELAXED);
  store_field(meta, FIELD_LOCK_DEPTH, 1, __ATOMIC_RELAXED);
  double sequence = load_field(meta, FIELD_WRITE_SEQUENCE, __ATOMIC_RELAXED);
  store_field(meta, FIELD_WRITE_SEQUENCE, sequence + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  memcpy(stream->data, source, stream->bytes);
  store_field(meta, FIELD_COUNT, load_field(meta, FIELD_COUNT, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
  store_field(meta, FIELD_WRITE_TIME, unix_seconds(), __ATOMIC_RELAXED);
  store_field(meta, FIELD_WRITE_SEQUENCE, sequence + 2, __ATOMIC_RELEASE);
  store_field(meta, FIELD_LOCK_OWNER_PID, 0, __ATOMIC_RELAXED);
  store_field(meta, FIELD_LOCK_DEPTH, 0, __ATOMIC_RELAXED);
  flock(stream->lock_fd, LOCK_UN);
}

/* docs/format.md, "Safe reading": returns the count of the write copied. */
static inline double stream_read(const shm_stream *stream, void *destination) {
  const double *meta = stream->meta;
  for (;;) {
    double before = load_field(meta, FIELD_WRITE_SEQUENCE, __ATOMIC_ACQUIRE);
    if (!is_odd(before)) {
      double count = load_field(meta, FIELD_COUNT, __ATOMIC_RELAXED);
      memcpy(destination, stream->data, stream->bytes);
      __atomic_thread_fence(__ATOMIC_ACQUIRE);
      if (load_field(meta, FIELD_WRITE_SEQUENCE, __ATOMIC_RELAXED) == before) return count;
    }
    cpu_relax();
  }
}

static inline void futex_wait(uint32_t *word, uint32_t expected) {
  syscall(SYS_futex, word, FUTEX_WAIT, expected, NULL, NULL, 0);
}

static inline void futex_wake_all(uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

/* After a write: bump the notify word; a system call only if a reader sleeps. */
static inline void stream_notify(shm_stream *stream) {
  __atomic_fetch_add(stream->notify, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(stream->waiters, __ATOMIC_SEQ_CST) != 0) futex_wake_all(stream->notify);
}

/* Sleeps on the notify word until the count differs from last_count. */
static inline double stream_wait_sleeping(shm_stream *stream, double last_count) {
  for (;;) {
    __atomic_fetch_add(stream->waiters, 1, __ATOMIC_SEQ_CST);
    uint32_t seen = __atomic_load_n(stream->notify, __ATOMIC_SEQ_CST);
    double count = load_field(stream->meta, FIELD_COUNT, __ATOMIC_SEQ_CST);
    if (count == last_count) futex_wait(stream->notify, seen);
    __atomic_fetch_sub(stream->waiters, 1, __ATOMIC_SEQ_CST);
    if (count != last_count) return count;
    count = load_field(stream->meta, FIELD_COUNT, __ATOMIC_ACQUIRE);
    if (count != last_count) return count;
  }
}

static inline double stream_wait_spinning(const shm_stream *stream, double last_count) {
  for (;;) {
    double count = load_field(stream->meta, FIELD_COUNT, __ATOMIC_ACQUIRE);
    if (count != last_count) return count;
    cpu_relax();
  }
}
