#include "ring/entry_lock.h"

#include <cerrno>
#include <fcntl.h>

namespace tsshmem {
namespace ring {

namespace {

struct flock Range(short type, uint64_t start, uint64_t length) {
  struct flock range = {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = static_cast<off_t>(start);
  range.l_len = static_cast<off_t>(length);
  range.l_pid = 0;  // required by OFD locks
  return range;
}

}  // namespace

EntryLock TryLockEntry(int fd, uint64_t start, uint64_t length) {
  struct flock range = Range(F_WRLCK, start, length);
  while (fcntl(fd, F_OFD_SETLK, &range) != 0) {
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EACCES ? EntryLock::kBusy : EntryLock::kFailed;
  }
  return EntryLock::kTaken;
}

void UnlockEntry(int fd, uint64_t start, uint64_t length) {
  struct flock range = Range(F_UNLCK, start, length);
  while (fcntl(fd, F_OFD_SETLK, &range) != 0 && errno == EINTR) {
  }
}

bool EntryLocked(int fd, uint64_t start, uint64_t length) {
  struct flock range = Range(F_WRLCK, start, length);
  while (fcntl(fd, F_OFD_GETLK, &range) != 0) {
    if (errno != EINTR) return false;
  }
  return range.l_type != F_UNLCK;
}

}  // namespace ring
}  // namespace tsshmem
