#pragma once
#include <napi.h>

namespace tsshmem {

// shmCreate, shmOpen, shmClose, shmUnlink.
void InitSegment(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
