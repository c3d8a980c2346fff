// The stream's lock file: opening and closing its descriptor, and a bare
// flock probe for tools. Taking a stream's lock, with its owner pid and
// depth recorded in the metadata, is the protocol's (protocol/
// frame_protocol.h, reached through NativeStream.lockEnter/lockLeave);
// re-entrancy and timeouts are TypeScript's policy (src/stream/lock.ts).
#include "lock.h"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <unistd.h>

#include "errors.h"
#include "protocol/frame_protocol.h"
#include "wake/silent_writers.h"

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

// flockTry(fd) -> true if the exclusive flock was taken, false if held
// elsewhere. A bare probe for tools: it records no owner (a stream's lock is
// taken with NativeStream.lockEnter, which does).
Napi::Value FlockTry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Status status = TryFlock(info[0].As<Napi::Number>().Int32Value());
  if (status == Status::kSystemError) ThrowSystemError(env, errno, "flock");
  return Napi::Boolean::New(env, status == Status::kLockTaken);
}

// flockRelease(fd): releases what flockTry took.
Napi::Value FlockRelease(const Napi::CallbackInfo& info) {
  Unflock(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFileOpen", Napi::Function::New(env, LockFileOpen, "lockFileOpen"));
  exports.Set("lockFileClose", Napi::Function::New(env, LockFileClose, "lockFileClose"));
  exports.Set("flockTry", Napi::Function::New(env, FlockTry, "flockTry"));
  exports.Set("flockRelease", Napi::Function::New(env, FlockRelease, "flockRelease"));
}

}  // namespace tsshmem
