// NativeStream: the mapped metadata and data segments of one open handle,
// mirroring the TypeScript SharedMemory object one to one. It binds the
// protocol (protocol/frame_protocol.h) and the waits to JavaScript; it
// decides nothing itself.
#pragma once
#include <napi.h>

#include <memory>

#include "wake/async_wait.h"
#include "protocol/frame_protocol.h"
#include "wake/sync_wait.h"
#include "wake/wait_stats.h"
#include "unique_fd.h"
#include "wake/wake_slots.h"

namespace tsshmem {

class Mapping;

// The waits of one open handle: the futex target with the sleeper's wake
// slot, the asynchronous wait and how waits ended. Released (pending wait
// dropped, slot freed) with the handle's state.
struct HandleWaits {
  FutexTarget futex;
  LockFileWritersCache lock_file_writers;
  WaitStats stats;
  std::unique_ptr<AsyncWait> async;
  int lock_fd = -1;

  HandleWaits() = default;
  HandleWaits(const HandleWaits&) = delete;
  HandleWaits& operator=(const HandleWaits&) = delete;
  ~HandleWaits();
  // Settles a pending wait with CANCELLED and frees the wake slot.
  void Close();
};

// What the native functions of one open handle touch: its mapped segments
// and its waits. Shared by the NativeStream and by the functions bound to it
// (NativeStream::BindHotFunctions), which JavaScript may keep longer.
struct HandleState {
  std::shared_ptr<Mapping> meta;
  std::shared_ptr<Mapping> data;
  size_t payload_bytes = 0;
  // The mapped addresses, as the protocol sees them; valid until closed.
  Frame frame;
  // The stream's entry in the SIGBUS guard's registry (-1: unguarded).
  int guard_entry = -1;
  bool closed = false;
  HandleWaits waits;

  void CheckOpen(Napi::Env env) const;
  void* PayloadSizedView(Napi::Env env, Napi::Value value, bool zerosIfNull) const;
};

class NativeStream : public Napi::ObjectWrap<NativeStream> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeStream(const Napi::CallbackInfo& info);
  // A ring stream's descriptor of its metadata object, handed to its
  // NativeRing (which then owns it) once; -1 if there is none.
  int TakeRingMetaDescriptor();

 private:
  Napi::Value MetaBuffer(const Napi::CallbackInfo& info);
  Napi::Value DataBuffer(const Napi::CallbackInfo& info);
  static Napi::Value Write(const Napi::CallbackInfo& info);
  static Napi::Value Read(const Napi::CallbackInfo& info);
  static Napi::Value WaitSync(const Napi::CallbackInfo& info);
  static Napi::Value WaitAsync(const Napi::CallbackInfo& info);
  Napi::Value ReadLocked(const Napi::CallbackInfo& info);
  Napi::Value RepairSequence(const Napi::CallbackInfo& info);
  Napi::Value LockEnter(const Napi::CallbackInfo& info);
  Napi::Value LockLeave(const Napi::CallbackInfo& info);
  Napi::Value CancelWait(const Napi::CallbackInfo& info);
  Napi::Value WaitStatsOf(const Napi::CallbackInfo& info);
  Napi::Value GuardEntry(const Napi::CallbackInfo& info);
  Napi::Value UseLockFile(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void BindHotFunctions(Napi::Env env, Napi::Object self);
  Napi::Value BufferOf(Napi::Env env, const std::shared_ptr<Mapping>& mapping, Napi::Reference<Napi::ArrayBuffer>& cache);

  std::shared_ptr<HandleState> state_;
  Napi::Reference<Napi::ArrayBuffer> meta_buffer_;
  Napi::Reference<Napi::ArrayBuffer> data_buffer_;
  UniqueFd ring_meta_fd_;
};

}  // namespace tsshmem
