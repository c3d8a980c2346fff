// The module table of the tsshmem addon; the mechanisms live in their own files.
#include <napi.h>

#include "lock.h"
#include "protocol/status.h"
#include "segment.h"
#include "stream.h"

namespace tsshmem {

namespace {

// native.Status: the one table of outcomes TypeScript compares against.
void ExportStatus(Napi::Env env, Napi::Object exports) {
  Napi::Object table = Napi::Object::New(env);
  for (const StatusName& entry : kStatusNames) table.Set(entry.name, Napi::Number::New(env, AsResult(entry.value)));
  table.Freeze();
  exports.Set("Status", table);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ExportStatus(env, exports);
  InitSegment(env, exports);
  InitLock(env, exports);
  NativeStream::Init(env, exports);
  return exports;
}

NODE_API_MODULE(tsshmem, Init)

}  // namespace tsshmem
