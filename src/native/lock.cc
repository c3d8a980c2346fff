// flock(2) on the stream's lock file. Re-entrancy, timeouts and owner
// bookkeeping are policy and live in TypeScript (src/stream/lock.ts).
#include "lock.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "errors.h"

namespace tsshmem {

namespace {

// lockFileOpen(path) -> fd. Opened for append like pyshmem, created
// 0666 minus the umask; O_NOFOLLOW refuses a planted symlink.
Napi::Value LockFileOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) ThrowSystemError(env, errno, "open");
  return Napi::Number::New(env, fd);
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

Napi::Value FlockRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (flock(fd, LOCK_UN) != 0) ThrowSystemError(env, errno, "flock");
  return env.Undefined();
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFileOpen", Napi::Function::New(env, LockFileOpen, "lockFileOpen"));
  exports.Set("flockTry", Napi::Function::New(env, FlockTry, "flockTry"));
  exports.Set("flockWait", Napi::Function::New(env, FlockWait, "flockWait"));
  exports.Set("flockRelease", Napi::Function::New(env, FlockRelease, "flockRelease"));
}

}  // namespace tsshmem
