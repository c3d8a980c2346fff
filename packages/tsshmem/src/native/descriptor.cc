// fstat, fchmod, pread and a lock test on the descriptors this addon opens (shm objects,
// lock files). Not with node:fs: Deno's node:fs knows only descriptors from
// its own resource table and fails with EBADF on ours.
#include "descriptor.h"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "ring/entry_lock.h"

namespace tsshmem {

namespace {

// fdStatus(fd) -> { regularFile, size, uid }.
Napi::Value FdStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct stat status;
  if (fstat(fd, &status) != 0) ThrowSystemError(env, errno, "fstat");
  Napi::Object result = Napi::Object::New(env);
  result.Set("regularFile", Napi::Boolean::New(env, S_ISREG(status.st_mode)));
  result.Set("size", Napi::Number::New(env, static_cast<double>(status.st_size)));
  result.Set("uid", Napi::Number::New(env, status.st_uid));
  return result;
}

// fdChmod(fd, mode).
Napi::Value FdChmod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  mode_t mode = static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value());
  if (fchmod(fd, mode) != 0) ThrowSystemError(env, errno, "fchmod");
  return env.Undefined();
}

// fdRead(fd, destination, position) -> bytes read into destination (a
// Uint8Array) from the file offset position; fewer than its length only at
// the end of the file.
Napi::Value FdRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto destination = info[1].As<Napi::Uint8Array>();
  off_t position = static_cast<off_t>(info[2].As<Napi::Number>().Int64Value());
  size_t done = 0;
  while (done < destination.ByteLength()) {
    ssize_t got = pread(fd, destination.Data() + done, destination.ByteLength() - done, position + static_cast<off_t>(done));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      ThrowSystemError(env, errno, "pread");
    }
    done += static_cast<size_t>(got);
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

// fdRangeLocked(fd, start, length) -> whether another open file description
// holds an OFD lock on those bytes (a ring reader entry's liveness, for tools).
Napi::Value FdRangeLocked(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto start = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  auto length = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  return Napi::Boolean::New(info.Env(), ring::EntryLocked(fd, start, length));
}

}  // namespace

void InitDescriptor(Napi::Env env, Napi::Object exports) {
  exports.Set("fdStatus", Napi::Function::New(env, FdStatus, "fdStatus"));
  exports.Set("fdChmod", Napi::Function::New(env, FdChmod, "fdChmod"));
  exports.Set("fdRead", Napi::Function::New(env, FdRead, "fdRead"));
  exports.Set("fdRangeLocked", Napi::Function::New(env, FdRangeLocked, "fdRangeLocked"));
}

}  // namespace tsshmem
