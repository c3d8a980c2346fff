// The module table of the tsshmem addon; the mechanisms live in their own files.
#include <napi.h>

#include "lock.h"
#include "ring/ring_binding.h"
#include "segment.h"
#include "stream.h"

namespace tsshmem {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitSegment(env, exports);
  InitLock(env, exports);
  NativeStream::Init(env, exports);
  InitRing(env, exports);
  return exports;
}

NODE_API_MODULE(tsshmem, Init)

}  // namespace tsshmem
