#pragma once
#include <napi.h>

namespace tsshmem {

// lockFileOpen, flockTry, flockWait, flockTimed, flockRelease.
void InitLock(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
