#include "errors.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace tsshmem {

namespace {

const char* ErrnoName(int errnum) {
  switch (errnum) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EBADF: return "EBADF";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    case EINTR: return "EINTR";
    case ENOTDIR: return "ENOTDIR";
    case EROFS: return "EROFS";
    case ENODEV: return "ENODEV";
    case EFBIG: return "EFBIG";
    default: return "EUNKNOWN";
  }
}

}  // namespace

Napi::Error SystemError(Napi::Env env, int errnum, const char* syscall) {
  std::string message = std::string(ErrnoName(errnum)) + ": " + std::strerror(errnum) + ", " + syscall;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", ErrnoName(errnum));
  error.Set("errno", Napi::Number::New(env, errnum));
  error.Set("syscall", syscall);
  return error;
}

void ThrowSystemError(Napi::Env env, int errnum, const char* syscall) {
  throw SystemError(env, errnum, syscall);
}

}  // namespace tsshmem
