/*
 * A writer that wakes nobody, as pyshmem's: compatible writes (flock,
 * sequence, copy, count, time) to an existing stream, without touching
 * tsshmem's notify word or wake slots. It opens the lock file for append, as
 * pyshmem does: once for all writes ("attached"), or before each write and
 * closing it after ("attach-each": a process that appears, writes at once
 * and leaves, the hardest case for a reader to notice in time).
 * Writes come at random gaps between GAP_MIN_MS and GAP_MAX_MS.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "shm_stream.h"

static void *map_object(const char *name, size_t *bytes) {
  int fd = shm_open(name, O_RDWR, 0);
  if (fd < 0) fail("shm_open");
  struct stat status;
  if (fstat(fd, &status) != 0) fail("fstat");
  void *address = mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) fail("mmap");
  close(fd);
  *bytes = (size_t)status.st_size;
  return address;
}

static void sleep_ms(double ms) {
  struct timespec pause = {(time_t)(ms / 1000), (long)((ms - 1000 * (time_t)(ms / 1000)) * 1e6)};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  end_with_parent();
  if (argc != 8) {
    fprintf(stderr, "usage: %s attached|attach-each META_NAME DATA_NAME LOCK_PATH WRITES GAP_MIN_MS GAP_MAX_MS\n", argv[0]);
    return 2;
  }
  int attach_each = strcmp(argv[1], "attach-each") == 0;
  shm_stream stream = {0};
  size_t meta_bytes = 0, data_bytes = 0;
  stream.meta = map_object(argv[2], &meta_bytes);
  stream.data = map_object(argv[3], &data_bytes);
  stream.bytes = (size_t)load_field(stream.meta, FIELD_SIZE, __ATOMIC_RELAXED);
  if (meta_bytes < 256 || stream.bytes > data_bytes) {
    fprintf(stderr, "%s: not a stream of the expected size\n", argv[2]);
    return 1;
  }
  snprintf(stream.lock_path, sizeof stream.lock_path, "%s", argv[4]);
  long writes = atol(argv[5]);
  double gap_min = atof(argv[6]), gap_max = atof(argv[7]);
  unsigned char *frame = calloc(1, stream.bytes);
  if (frame == NULL) fail("calloc");
  srand((unsigned)getpid());
  if (!attach_each) stream_open_lock(&stream);
  for (long write = 0; write < writes; write++) {
    sleep_ms(gap_min + (gap_max - gap_min) * rand() / (double)RAND_MAX);
    if (attach_each) stream_open_lock(&stream);
    stream_write(&stream, frame, (double)getpid());
    if (attach_each) {
      close(stream.lock_fd);
      stream.lock_fd = -1;
    }
  }
  printf("{\"writes\":%ld}\n", writes);
  return 0;
}
