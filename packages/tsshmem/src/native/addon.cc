// The module table of the tsshmem addon; the mechanisms live in their own files.
#include <napi.h>

#include "descriptor.h"
#include "guard/mapping_registry.h"
#include "lock.h"
#include "protocol/status.h"
#include "ring/ring_binding.h"
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

// native.Lost: the bits of a lost word; native.lostWords(): all lost words,
// one per guarded stream (NativeStream.guardEntry() indexes them). The
// memory is static: the ArrayBuffer needs no finalizer.
void ExportLostWords(Napi::Env env, Napi::Object exports) {
  Napi::Object bits = Napi::Object::New(env);
  bits.Set("METADATA", Napi::Number::New(env, kLostMetadata));
  bits.Set("DATA", Napi::Number::New(env, kLostData));
  bits.Freeze();
  exports.Set("Lost", bits);
  exports.Set("lostWords", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return Napi::ArrayBuffer::New(info.Env(), LostWords(), kMaxGuardedStreams * sizeof(int32_t));
              }, "lostWords"));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ExportStatus(env, exports);
  ExportLostWords(env, exports);
  InitSegment(env, exports);
  InitLock(env, exports);
  InitDescriptor(env, exports);
  NativeStream::Init(env, exports);
  InitRing(env, exports);
  return exports;
}

NODE_API_MODULE(tsshmem, Init)

}  // namespace tsshmem
