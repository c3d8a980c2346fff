// The module table of the tsshmem addon; the mechanisms live in their own files.
#include <napi.h>

#include "descriptor.h"
#include "lock.h"
#include "segment.h"
#include "stream.h"

namespace tsshmem {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitSegment(env, exports);
  InitLock(env, exports);
  InitDescriptor(env, exports);
  NativeStream::Init(env, exports);
  return exports;
}

NODE_API_MODULE(tsshmem, Init)

}  // namespace tsshmem
