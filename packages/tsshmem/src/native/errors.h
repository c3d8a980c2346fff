// Raw system errors, shaped like Node's: err.code is the errno name, err.errno
// the number, err.syscall the failing call. The TypeScript layer decides what
// the user is told.
#pragma once
#include <napi.h>

namespace tsshmem {

Napi::Error SystemError(Napi::Env env, int errnum, const char* syscall);

[[noreturn]] void ThrowSystemError(Napi::Env env, int errnum, const char* syscall);

}  // namespace tsshmem
