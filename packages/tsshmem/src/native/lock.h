#pragma once
#include <napi.h>

namespace tsshmem {

// lockFileOpen, lockFileClose, flockTry, flockRelease.
void InitLock(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
