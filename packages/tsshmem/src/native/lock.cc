// flock(2) on the stream's lock file. Re-entrancy, timeouts and owner
// bookkeeping are policy and live in TypeScript (src/stream/lock.ts).
#include "lock.h"

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "errors.h"
#include "futex.h"
#include "shared_fields.h"
#include "silent_writers.h"

namespace tsshmem {

namespace {

// A lock descriptor left open by a thread that ends (a worker's finalizers
// do not run) would keep its flock, and so the stream's lock, forever: the
// environment's cleanup closes what lockFileClose did not.
void CloseAtTeardown(void* fd) { close(static_cast<int>(reinterpret_cast<intptr_t>(fd))); }

void* AsHookArgument(int fd) { return reinterpret_cast<void*>(static_cast<intptr_t>(fd)); }

// lockFileOpen(path) -> fd. Created 0666 minus the umask, like pyshmem's;
// O_NOFOLLOW refuses a planted symlink. Read-only, unlike pyshmem's append
// (flock needs neither): an open for writing then tells a pyshmem process
// (silent_writers.h).
Napi::Value LockFileOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) ThrowSystemError(env, errno, "open");
  if (!PrepareLockFileForProbes(fd)) {
    int saved = errno;
    close(fd);
    ThrowSystemError(env, saved, "fcntl");
  }
  napi_add_env_cleanup_hook(env, CloseAtTeardown, AsHookArgument(fd));
  return Napi::Number::New(env, fd);
}

// lockFileClose(fd): closes a descriptor from lockFileOpen, releasing its flock.
Napi::Value LockFileClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  napi_remove_env_cleanup_hook(env, CloseAtTeardown, AsHookArgument(fd));
  close(fd);
  return env.Undefined();
}

// flockTry(fd) -> true if the exclusive lock was taken, false if held elsewhere.
Napi::Value FlockTry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    if (errno != EINTR) ThrowSystemError(env, errno, "flock");
  }
  return Napi::Boolean::New(env, true);
}

// flockWait(fd): blocks the calling thread until the exclusive lock is taken.
Napi::Value FlockWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) ThrowSystemError(env, errno, "flock");
  }
  return env.Undefined();
}

// flockTimed(fd, timeoutMs, maxPollMs) -> true once the exclusive lock is
// taken, false after timeoutMs. Tries back to back at first (a writer that
// publishes back to back frees the lock for only microseconds), then sleeps
// between tries, doubling up to maxPollMs.
Napi::Value FlockTimed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t timeoutNs = static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue() * 1e6);
  int64_t maxPollNs = static_cast<int64_t>(info[2].As<Napi::Number>().DoubleValue() * 1e6);
  int64_t deadline = MonotonicNs() + timeoutNs;
  int64_t pause = 0;
  for (int attempt = 0;; ++attempt) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(env, true);
    if (errno != EWOULDBLOCK && errno != EINTR) ThrowSystemError(env, errno, "flock");
    int64_t left = deadline - MonotonicNs();
    if (left <= 0) return Napi::Boolean::New(env, false);
    if (attempt < 100) {
      for (int i = 0; i < 64; ++i) CpuRelax();
      continue;
    }
    pause = pause == 0 ? 10000 : std::min(pause * 2, maxPollNs);
    SleepNs(std::min(pause, left));
  }
}

Napi::Value FlockRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (flock(fd, LOCK_UN) != 0) ThrowSystemError(env, errno, "flock");
  return env.Undefined();
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFileOpen", Napi::Function::New(env, LockFileOpen, "lockFileOpen"));
  exports.Set("lockFileClose", Napi::Function::New(env, LockFileClose, "lockFileClose"));
  exports.Set("flockTry", Napi::Function::New(env, FlockTry, "flockTry"));
  exports.Set("flockWait", Napi::Function::New(env, FlockWait, "flockWait"));
  exports.Set("flockTimed", Napi::Function::New(env, FlockTimed, "flockTimed"));
  exports.Set("flockRelease", Napi::Function::New(env, FlockRelease, "flockRelease"));
}

}  // namespace tsshmem
