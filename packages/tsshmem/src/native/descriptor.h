#pragma once
#include <napi.h>

namespace tsshmem {

// fdStatus, fdChmod, fdRead.
void InitDescriptor(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
