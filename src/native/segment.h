#pragma once
#include <napi.h>

namespace tsshmem {

// shmCreate, shmOpen, shmUnlink, fdStat, closeFd.
void InitSegment(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
