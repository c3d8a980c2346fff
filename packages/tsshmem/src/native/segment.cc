// POSIX shared-memory objects: create, open, close, unlink (descriptors are
// inspected with descriptor.cc). Mapping lives in stream.cc, which owns the mapped
// memory.
#include "segment.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

namespace tsshmem {

namespace {

// shmCreate(name, size, mode) -> fd. O_EXCL: fails with EEXIST if the object
// exists. The mode is applied with fchmod so the umask cannot narrow it.
Napi::Value ShmCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  off_t size = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value());
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0) ThrowSystemError(env, errno, "shm_open");
  if (fchmod(fd, mode) != 0 || ftruncate(fd, size) != 0) {
    int saved = errno;
    close(fd);
    shm_unlink(name.c_str());
    ThrowSystemError(env, saved, "ftruncate");
  }
  return Napi::Number::New(env, fd);
}

// shmOpen(name) -> fd, read-write. glibc adds O_NOFOLLOW, so a symlink
// planted in /dev/shm fails with ELOOP; a directory fails with EISDIR.
Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) ThrowSystemError(env, errno, "shm_open");
  return Napi::Number::New(env, fd);
}

// shmClose(fd): closes a descriptor from shmCreate or shmOpen. Not with
// node:fs: in a worker thread it warns about every descriptor it did not open.
Napi::Value ShmClose(const Napi::CallbackInfo& info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// shmUnlink(name) -> true if removed, false if it did not exist.
Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  if (shm_unlink(name.c_str()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowSystemError(env, errno, "shm_unlink");
}

}  // namespace

void InitSegment(Napi::Env env, Napi::Object exports) {
  exports.Set("shmCreate", Napi::Function::New(env, ShmCreate, "shmCreate"));
  exports.Set("shmOpen", Napi::Function::New(env, ShmOpen, "shmOpen"));
  exports.Set("shmClose", Napi::Function::New(env, ShmClose, "shmClose"));
  exports.Set("shmUnlink", Napi::Function::New(env, ShmUnlink, "shmUnlink"));
}

}  // namespace tsshmem
