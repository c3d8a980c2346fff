#include "stream.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errors.h"
#include "clock.h"
#include "guard/guarded_copy.h"
#include "guard/mapping_registry.h"
#include "mapping.h"
#include "protocol/frame_protocol.h"

namespace tsshmem {

namespace {

// A value of the enum's range that no case of ElementSize sizes.
constexpr auto kTypeNotSet = static_cast<napi_typedarray_type>(15);

// Bytes per element; 0 for a type this build cannot size.
size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 0;
  }
}

// The bytes behind a TypedArray, Buffer or DataView, without copying; false
// for any other value, or a TypedArray of a type it cannot size. A
// TypedArray, the common case, costs one N-API call.
bool ViewBytes(napi_env env, napi_value value, void** data, size_t* bytes) {
  // Node-API leaves the type unset for a TypedArray it cannot name
  // (Float16Array on Node 24; TypeScript hands those over as Uint16Array).
  napi_typedarray_type type = kTypeNotSet;
  size_t length = 0;
  if (napi_get_typedarray_info(env, value, &type, &length, data, nullptr, nullptr) == napi_ok) {
    size_t elementSize = ElementSize(type);
    *bytes = length * elementSize;
    return elementSize != 0;
  }
  return napi_get_dataview_info(env, value, bytes, data, nullptr, nullptr) == napi_ok;
}


// The status of a stream whose mapping lost its pages to a truncation
// (guard/guarded_copy.h), checked before and after each operation: after a
// fault the guard mapped zeros, which must not pass for the stream's content.
// kPublished: nothing lost.
Status LossOf(const HandleState& state, int32_t relevant) {
  int32_t lost = LostBits(state.guard_entry) & relevant;
  if ((lost & kLostMetadata) != 0) return Status::kMetadataLost;
  if ((lost & kLostData) != 0) return Status::kTruncated;
  return Status::kPublished;
}

constexpr int32_t kAnyLoss = kLostMetadata | kLostData;

// A Status handed to JavaScript; a system error is thrown instead.
Napi::Value StatusValue(Napi::Env env, Status status, const char* syscall) {
  if (status == Status::kSystemError) ThrowSystemError(env, errno, syscall);
  return Napi::Number::New(env, AsResult(status));
}

}  // namespace

void NativeStream::Init(Napi::Env env, Napi::Object exports) {
  InstallSigbusGuard();
  Napi::Function ctor = DefineClass(env, "NativeStream",
                                    {
                                        InstanceMethod<&NativeStream::MetaBuffer>("metaBuffer"),
                                        InstanceMethod<&NativeStream::DataBuffer>("dataBuffer"),
                                        InstanceMethod<&NativeStream::ReadLocked>("readLocked"),
                                        InstanceMethod<&NativeStream::RepairSequence>("repairSequence"),
                                        InstanceMethod<&NativeStream::LockEnter>("lockEnter"),
                                        InstanceMethod<&NativeStream::LockLeave>("lockLeave"),
                                        InstanceMethod<&NativeStream::CancelWait>("cancelWait"),
                                        InstanceMethod<&NativeStream::WaitStatsOf>("waitStats"),
                                        InstanceMethod<&NativeStream::GuardEntry>("guardEntry"),
                                        InstanceMethod<&NativeStream::UseLockFile>("useLockFile"),
                                        InstanceMethod<&NativeStream::Close>("close"),
                                    });
  exports.Set("NativeStream", ctor);
}

// new NativeStream(metaFd, metaLength, dataFd, dataLength, payloadBytes, extension, ring)
// The descriptors may be closed once this returns; ring: true keeps a
// duplicate of metaFd for the stream's NativeRing. extension: null for a
// stream without tsshmem's extension area, else the byte offsets in the
// metadata object of { notifyWord, wakeWaiting, wakeSlots,
// wakeSlotCount } (src/format/extension.ts owns the layout).
NativeStream::NativeStream(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeStream>(info), state_(std::make_shared<HandleState>()) {
  Napi::Env env = info.Env();
  int metaFd = info[0].As<Napi::Number>().Int32Value();
  size_t metaLength = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  int dataFd = info[2].As<Napi::Number>().Int32Value();
  size_t dataLength = static_cast<size_t>(info[3].As<Napi::Number>().Int64Value());
  HandleState& state = *state_;
  state.payload_bytes = static_cast<size_t>(info[4].As<Napi::Number>().Int64Value());
  if (state.payload_bytes > dataLength || metaLength < 256) {
    throw Napi::RangeError::New(env, "segment smaller than its metadata says");
  }
  state.guard_entry = ClaimGuardEntry();
  try {
    state.meta = Mapping::Map(env, metaFd, metaLength, state.guard_entry, kLostMetadata);
  } catch (...) {
    // No range was registered, so no mapping will free the entry.
    DropGuardedRange(state.guard_entry, kLostMetadata);
    throw;
  }
  state.data = Mapping::Map(env, dataFd, dataLength, state.guard_entry, kLostData);
  auto* base = static_cast<uint8_t*>(state.meta->address());
  FutexTarget& futex = state.waits.futex;
  futex.meta = reinterpret_cast<const double*>(base);
  futex.guard_entry = state.guard_entry;
  if (info[5].IsObject()) {
    Napi::Object extension = info[5].As<Napi::Object>();
    auto offset = [&](const char* key) { return static_cast<size_t>(extension.Get(key).As<Napi::Number>().Int64Value()); };
    size_t slotCount = offset("wakeSlotCount");
    if (offset("wakeSlots") + slotCount * 16 > metaLength) throw Napi::RangeError::New(env, "extension area past the metadata object");
    futex.notify = reinterpret_cast<uint32_t*>(base + offset("notifyWord"));
    futex.slots = WakeSlots(base + offset("wakeSlots"), static_cast<uint32_t>(slotCount),
                             reinterpret_cast<uint32_t*>(base + offset("wakeWaiting")));
  }
  state.frame = Frame{static_cast<double*>(state.meta->address()), state.data->address(), state.payload_bytes};
  if (info[6].ToBoolean()) {
    ring_meta_fd_.Reset(fcntl(metaFd, F_DUPFD_CLOEXEC, 0));
    if (ring_meta_fd_.Get() < 0) ThrowSystemError(env, errno, "fcntl");
  }
  BindHotFunctions(env, info.This().As<Napi::Object>());
}

int NativeStream::TakeRingMetaDescriptor() { return ring_meta_fd_.Release(); }

// write, read, waitSync and waitAsync are own properties of each
// NativeStream, functions whose data is its state: a call then skips
// napi_unwrap (a private property lookup) and the ObjectWrap dispatch, a
// third of the time of a 1-element write + read in single-writer mode, and
// about 1.3 µs of each hop of a readNewSync ping-pong. Each function keeps the
// state alive, since JavaScript may keep it longer than the stream.
void NativeStream::BindHotFunctions(Napi::Env env, Napi::Object self) {
  auto bind = [&](const char* name, Napi::Function function) {
    auto keepAlive = std::make_unique<std::shared_ptr<HandleState>>(state_);
    function.AddFinalizer([](Napi::Env, std::shared_ptr<HandleState>* held) { delete held; }, keepAlive.get());
    keepAlive.release();
    self.DefineProperty(Napi::PropertyDescriptor::Value(name, function, napi_default));
  };
  bind("write", Napi::Function::New<&NativeStream::Write>(env, "write", state_.get()));
  bind("read", Napi::Function::New<&NativeStream::Read>(env, "read", state_.get()));
  bind("waitSync", Napi::Function::New<&NativeStream::WaitSync>(env, "waitSync", state_.get()));
  bind("waitAsync", Napi::Function::New<&NativeStream::WaitAsync>(env, "waitAsync", state_.get()));
}

HandleWaits::~HandleWaits() {
  if (async) async->Close(false);
  if (futex.slot >= 0) futex.slots.Release(futex.slot);
}

void HandleWaits::Close() {
  if (async) async->Close(true);
  if (futex.slot >= 0) {
    futex.slots.Release(futex.slot);
    futex.slot = -1;
  }
}

void HandleState::CheckOpen(Napi::Env env) const {
  if (closed) throw Napi::Error::New(env, "stream is closed");
}

// The bytes of a TypedArray, Buffer or DataView of exactly the payload's
// size; with zerosIfNull, nullptr for null. TypeScript checks users' arrays
// first; this guards the copies.
void* HandleState::PayloadSizedView(Napi::Env env, Napi::Value value, bool zerosIfNull) const {
  void* data = nullptr;
  size_t bytes = 0;
  if (!ViewBytes(env, value, &data, &bytes)) {
    if (zerosIfNull && value.IsNull()) return nullptr;
    throw Napi::TypeError::New(env, "expected an ArrayBufferView");
  }
  if (bytes != payload_bytes) throw Napi::RangeError::New(env, "view byte length differs from the payload");
  return data;
}

Napi::Value NativeStream::BufferOf(Napi::Env env, const std::shared_ptr<Mapping>& mapping,
                                   Napi::Reference<Napi::ArrayBuffer>& cache) {
  state_->CheckOpen(env);
  if (cache.IsEmpty()) {
    auto* keepAlive = new std::shared_ptr<Mapping>(mapping);
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, mapping->address(), mapping->length(),
        [](Napi::Env, void*, std::shared_ptr<Mapping>* hint) { delete hint; }, keepAlive);
    cache = Napi::Persistent(buffer);
  }
  return cache.Value();
}

Napi::Value NativeStream::MetaBuffer(const Napi::CallbackInfo& info) {
  return BufferOf(info.Env(), state_->meta, meta_buffer_);
}

Napi::Value NativeStream::DataBuffer(const Napi::CallbackInfo& info) {
  return BufferOf(info.Env(), state_->data, data_buffer_);
}

// write(source | null, lockFd) -> Status: PUBLISHED, LOCK_BUSY, TRUNCATED
// or CORRUPT (protocol::Publish). source null writes zeros. lockFd < 0: the
// caller already holds the lock.
Napi::Value NativeStream::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const HandleState& state = *static_cast<const HandleState*>(info.Data());
  state.CheckOpen(env);
  void* source = state.PayloadSizedView(env, info[0], true);
  Status status = LossOf(state, kAnyLoss);
  if (status != Status::kPublished) return StatusValue(env, status, "flock");
  status = Publish(state.frame, source, info[1].As<Napi::Number>().Int32Value());
  if (status == Status::kPublished) NotifyWaiters(state.waits.futex.notify, state.waits.futex.slots);
  Status lost = LossOf(state, kAnyLoss);
  return StatusValue(env, lost != Status::kPublished ? lost : status, "flock");
}

// read(destination, budgetMs) -> the count of the write copied, or a Status
// (protocol::ReadConsistent). budgetMs < 0: no limit.
Napi::Value NativeStream::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const HandleState& state = *static_cast<const HandleState*>(info.Data());
  state.CheckOpen(env);
  void* destination = state.PayloadSizedView(env, info[0], false);
  if (LossOf(state, kAnyLoss) != Status::kPublished) return StatusValue(env, LossOf(state, kAnyLoss), "read");
  double result = ReadConsistent(state.frame, destination, info[1].As<Napi::Number>().DoubleValue());
  Status lost = LossOf(state, kAnyLoss);
  return Napi::Number::New(env, lost != Status::kPublished ? AsResult(lost) : result);
}

// readLocked(destination, allowInterrupted) -> the count, or a Status
// (protocol::ReadUnderLock). Only while the caller holds the lock.
Napi::Value NativeStream::ReadLocked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const HandleState& state = *state_;
  state.CheckOpen(env);
  void* destination = state.PayloadSizedView(env, info[0], false);
  if (LossOf(state, kAnyLoss) != Status::kPublished) return StatusValue(env, LossOf(state, kAnyLoss), "read");
  double result = ReadUnderLock(state.frame, destination, info[1].As<Napi::Boolean>().Value());
  Status lost = LossOf(state, kAnyLoss);
  return Napi::Number::New(env, lost != Status::kPublished ? AsResult(lost) : result);
}

// repairSequence() -> true if the sequence was odd and is now even. Only
// correct while the caller holds the lock: then no write is in progress.
Napi::Value NativeStream::RepairSequence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  state_->CheckOpen(env);
  bool repaired = LossOf(*state_, kLostMetadata) == Status::kPublished && tsshmem::RepairSequence(state_->frame.meta);
  return Napi::Boolean::New(env, repaired && LossOf(*state_, kLostMetadata) == Status::kPublished);
}

// lockEnter(fd, depth, timeoutMs, maxPollMs) -> Status. depth 1: takes fd's
// flock (LOCK_TAKEN, or LOCK_BUSY after timeoutMs; 0 tries once, < 0 waits
// as long as it takes); depth > 1: this thread holds it already, and only the
// depth is recorded (LOCK_TAKEN).
Napi::Value NativeStream::LockEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  state_->CheckOpen(env);
  int fd = info[0].As<Napi::Number>().Int32Value();
  int depth = info[1].As<Napi::Number>().Int32Value();
  double* meta = state_->frame.meta;
  Status status = LossOf(*state_, kLostMetadata);
  if (status != Status::kPublished) return StatusValue(env, status, "flock");
  if (depth > 1) {
    RecordLockDepth(meta, depth);
    status = Status::kLockTaken;
  } else {
    status = TakeLock(fd, meta, info[2].As<Napi::Number>().DoubleValue(), info[3].As<Napi::Number>().DoubleValue());
  }
  Status lost = LossOf(*state_, kLostMetadata);
  if (lost == Status::kPublished) return StatusValue(env, status, "flock");
  // The owner record went to the guard's zeros: give back a lock just taken.
  if (status == Status::kLockTaken && depth == 1) Unflock(fd);
  return StatusValue(env, lost, "flock");
}

// lockLeave(fd, depth): the depth left after a release; 0 clears the owner
// record and releases fd's flock.
Napi::Value NativeStream::LockLeave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  state_->CheckOpen(env);
  int fd = info[0].As<Napi::Number>().Int32Value();
  int depth = info[1].As<Napi::Number>().Int32Value();
  if (depth > 0) {
    RecordLockDepth(state_->frame.meta, depth);
  } else {
    ReleaseLock(fd, state_->frame.meta);
  }
  return env.Undefined();
}

// waitSync(lastCount, timeoutMs, spinUs) -> the new count, or TIMED_OUT or
// CORRUPT. Blocks the calling thread.
Napi::Value NativeStream::WaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleState& state = *static_cast<HandleState*>(info.Data());
  state.CheckOpen(env);
  HandleWaits& waits = state.waits;
  double lastCount = info[0].As<Napi::Number>().DoubleValue();
  int64_t deadline = DeadlineAfterMs(info[1].As<Napi::Number>().DoubleValue());
  int64_t spinNs = DurationNs(info[2].As<Napi::Number>().DoubleValue() / 1000);
  // The sleeper's wake slot is claimed on first use and kept until close.
  if (waits.futex.slot < 0 && waits.futex.slots.Available()) {
    waits.futex.slot = waits.futex.slots.Claim(static_cast<uint32_t>(getpid()), 0);
  }
  WaitOutcome outcome = WaitForNewCount(waits.futex, lastCount, deadline, spinNs);
  waits.stats.Record(outcome.end);
  return Napi::Number::New(env, outcome.result);
}

// waitAsync(lastCount, timeoutMs, spinUs, callback) -> the new count (or
// CORRUPT) at once if it is already there or appears while spinning on this
// thread, else undefined and later callback(new count | TIMED_OUT |
// CANCELLED | CORRUPT).
Napi::Value NativeStream::WaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandleState& state = *static_cast<HandleState*>(info.Data());
  state.CheckOpen(env);
  HandleWaits& waits = state.waits;
  double lastCount = info[0].As<Napi::Number>().DoubleValue();
  int64_t deadline = DeadlineAfterMs(info[1].As<Napi::Number>().DoubleValue());
  int64_t spinNs = DurationNs(info[2].As<Napi::Number>().DoubleValue() / 1000);
  FutexTarget spinOnly{waits.futex.meta, nullptr, WakeSlots(), -1};
  spinOnly.guard_entry = waits.futex.guard_entry;
  WaitOutcome now = WaitForNewCount(spinOnly, lastCount, MonotonicNs(), spinNs);
  if (now.end != WaitEnd::kTimedOut) {
    waits.stats.Record(now.end);
    return Napi::Number::New(env, now.result);
  }
  if (!waits.async) {
    waits.async = std::make_unique<AsyncWait>(env, waits.futex.meta, waits.futex.guard_entry, waits.futex.notify,
                                              waits.futex.slots, waits.lock_fd, &waits.stats);
  }
  if (waits.async->Waiting()) throw Napi::Error::New(env, "a wait is already pending on this stream");
  waits.async->Start(info[3].As<Napi::Function>(), lastCount, deadline);
  return env.Undefined();
}

// guardEntry() -> the index of this stream's word in native.lostWords(), or
// -1 if the guard's registry was full (the stream is then unguarded).
Napi::Value NativeStream::GuardEntry(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state_->guard_entry);
}

// waitStats() -> { immediate, woken, rechecked, timedOut, cancelled }: how
// this handle's waits ended (wake/wait_stats.h). Also after close().
Napi::Value NativeStream::WaitStatsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  const WaitStats& recorded = state_->waits.stats;
  auto set = [&](const char* key, uint64_t value) { stats.Set(key, Napi::Number::New(env, static_cast<double>(value))); };
  set("immediate", recorded.immediate);
  set("woken", recorded.woken);
  set("rechecked", recorded.rechecked);
  set("timedOut", recorded.timed_out);
  set("cancelled", recorded.cancelled);
  return stats;
}

// useLockFile(fd): the lock file descriptor (from lockFileOpen, open while
// this stream is), through which waits notice pyshmem writers
// (silent_writers.h). Before the first wait.
Napi::Value NativeStream::UseLockFile(const Napi::CallbackInfo& info) {
  HandleWaits& waits = state_->waits;
  waits.lock_fd = info[0].As<Napi::Number>().Int32Value();
  waits.lock_file_writers.Use(waits.lock_fd);
  waits.futex.writers = &waits.lock_file_writers;
  return info.Env().Undefined();
}

// cancelWait(): settles a pending wait with CANCELLED now.
Napi::Value NativeStream::CancelWait(const Napi::CallbackInfo& info) {
  if (state_->waits.async) state_->waits.async->Cancel();
  return info.Env().Undefined();
}

// close(): settles a pending wait with CANCELLED, detaches the ArrayBuffers handed
// to JavaScript (views on them become empty instead of dangling) and unmaps.
// Idempotent.
Napi::Value NativeStream::Close(const Napi::CallbackInfo& info) {
  if (state_->closed) return info.Env().Undefined();
  state_->closed = true;
  state_->waits.Close();
  for (Napi::Reference<Napi::ArrayBuffer>* cache : {&meta_buffer_, &data_buffer_}) {
    if (!cache->IsEmpty()) {
      cache->Value().Detach();
      cache->Reset();
    }
  }
  state_->meta->Unmap();
  state_->data->Unmap();
  ring_meta_fd_.Reset();
  return info.Env().Undefined();
}

}  // namespace tsshmem
