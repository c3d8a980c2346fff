// NativeRing: one handle's side of a ring stream (ring_protocol.h), for
// src/stream/ring-stream.ts. It works on the mappings of the handle's
// NativeStream (their ArrayBuffers, which it keeps alive) and must be closed
// before that NativeStream is. A loaned slot or held sample is handed to
// TypeScript as its byte offset in the data object: TypeScript views it
// through the stream's one data ArrayBuffer (NativeStream.dataBuffer()), so
// handing over a frame allocates nothing whatever its size, and the addon
// stays pure Node-API. Every operation checks the stream's lost word
// (guard/mapping_registry.h) before and after touching the mappings.
#pragma once
#include <napi.h>

#include <array>

#include "ring_protocol.h"
#include "unique_fd.h"

namespace tsshmem {

class NativeRing : public Napi::ObjectWrap<NativeRing> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeRing(const Napi::CallbackInfo& info);
  ~NativeRing() override;

 private:
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Loan(const Napi::CallbackInfo& info);
  Napi::Value Publish(const Napi::CallbackInfo& info);
  Napi::Value Abandon(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  Napi::Value TakeSample(const Napi::CallbackInfo& info);
  Napi::Value Newest(const Napi::CallbackInfo& info);
  Napi::Value ReleaseSample(const Napi::CallbackInfo& info);
  Napi::Value Cursor(const Napi::CallbackInfo& info);
  Napi::Value CopyFrame(const Napi::CallbackInfo& info);
  Napi::Value RegisterNow(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // A method of one NativeRing, its instance carried as the function's data:
  // a call then skips ObjectWrap's unwrap (a private-property lookup), which
  // costs about as much as the rest of a hand-over's native call.
  template <Napi::Value (NativeRing::*method)(const Napi::CallbackInfo&)>
  static Napi::Value CallBound(const Napi::CallbackInfo& info) {
    return (static_cast<NativeRing*>(info.Data())->*method)(info);
  }
  void BindHotMethods(Napi::Env env, Napi::Object self);
  void CheckOpen(Napi::Env env) const;
  void Register();
  void Report(const ring::FrameInfo& frame, double metaCount, int hold);
  Status Loss() const;
  // lockFd >= 0: takes that flock without waiting (kLockTaken, or kLockBusy);
  // -1: the caller holds it (kLockTaken). Throws on a system error.
  Status TakeLockUnlessHeld(Napi::Env env, int lockFd) const;
  Napi::Value Outcome(Napi::Env env, Status status) const;
  double SlotOffset(uint64_t slot) const;
  void ReleaseEverything();
  void CloseMetaDescriptor();

  ring::Geometry geometry_;
  // The metadata object's descriptor the reader entry's liveness lock is taken on (geometry_.meta_fd).
  UniqueFd meta_fd_;
  ring::Ring ring_{ring::Geometry()};
  Napi::Reference<Napi::ArrayBuffer> meta_buffer_;
  Napi::Reference<Napi::ArrayBuffer> data_buffer_;
  Napi::Reference<Napi::Float64Array> info_array_;
  double* info_ = nullptr;
  uint64_t cursor_ = 0;
  int entry_ = -1;
  int guard_entry_ = -1;
  bool registration_tried_ = false;
  bool closed_ = false;
  bool loaned_ = false;
  uint64_t loan_index_ = 0;
  uint64_t loan_slot_ = 0;
  std::array<bool, ring::kHoldsPerReader> holding_{};
};

// NativeRing.
void InitRing(Napi::Env env, Napi::Object exports);

}  // namespace tsshmem
