// Noticing writers that wake nobody (pyshmem) before their first write, so
// that waits can check often only while one may be there.
//
// pyshmem opens a stream's lock file for append with every handle, readers'
// included, and keeps it open at least while the handle lives; tsshmem opens
// it read-only. So "the lock file is open for writing somewhere" means "a
// pyshmem process that may write has the stream open". The kernel
// answers that exactly: a read lease (fcntl F_SETLEASE) is refused with
// EAGAIN while any descriptor of the file is open for writing. A watch on
// the lock file itself (inotify IN_OPEN) says when to ask again.
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace tsshmem {

enum class LockFileWriters { kNone, kPresent, kUnknown };

// Takes and at once drops a read lease on fd (a read-only descriptor of the
// lock file). kUnknown where leases are not allowed (not the file's owner,
// or a file system without leases).
LockFileWriters ProbeLockFileWriters(int fd);

// Makes a lease break harmless: the kernel signals the lease holder when a
// writer opens the file during the microseconds a probe holds its lease;
// SIGURG, ignored by default, instead of SIGIO, which would end the process.
// false (errno set) if that cannot be arranged: fd must then not be probed.
bool PrepareLockFileForProbes(int fd);

// For waits without an event loop (readNewSync), which cannot watch the lock
// file: the probe's last answer, trusted for kIdleCheckNs. A sleeping
// reader looks at the count within that time anyway, so a pyshmem process
// that opens the lock file in between is caught no later.
class LockFileWritersCache {
 public:
  // fd: as for ProbeLockFileWriters; -1 (the default): writers unknown.
  void Use(int fd);
  bool MayHaveSilentWriter(int64_t nowNs);

 private:
  int fd_ = -1;
  int64_t probed_at_ns_ = 0;
  bool probed_ = false;
  LockFileWriters writers_ = LockFileWriters::kUnknown;
};

// Counts the opens of watched lock files: an inotify IN_OPEN watch on each
// file itself, so that opens of other streams' lock files wake nobody. One
// per event loop; the uv_poll handle never keeps the loop alive.
class LockFileWatch {
 public:
  // onOpen(opens): a watched file was opened; opens is its counter, or null
  // when the kernel dropped events (every counter was bumped).
  LockFileWatch(uv_loop_t* loop, std::function<void(const uint64_t* opens)> onOpen);
  ~LockFileWatch();
  LockFileWatch(const LockFileWatch&) = delete;
  LockFileWatch& operator=(const LockFileWatch&) = delete;

  // The open counter of the file behind fd (through /proc/self/fd, so the
  // very file the probe asks about), shared by every watcher of that file
  // and valid until its Unwatch; null if it cannot be watched (then every
  // check probes).
  const uint64_t* Watch(int fd);
  void Unwatch(const uint64_t* opens);

 private:
  struct Watched {
    uint64_t opens = 0;
    int watchers = 0;
  };
  static void OnReadable(uv_poll_t* handle, int status, int events);
  bool Start();

  uv_loop_t* loop_;
  std::function<void(const uint64_t*)> on_open_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  // By inotify watch descriptor; the kernel gives one per file. Entries stay
  // put (counters are handed out by address) until their last Unwatch.
  std::unordered_map<int, Watched> watched_;
};

}  // namespace tsshmem
