#include "ring_binding.h"

#include <v8.h>

#include <cerrno>
#include <cstring>
#include <sys/file.h>
#include <unistd.h>

#include "../errors.h"
#include "../futex.h"
#include "../guarded_copy.h"
#include "../shared_fields.h"

namespace tsshmem {

namespace {

// Info slots shared with TypeScript (a Float64Array it passes in).
enum Info : int { kInfoCount = 0, kInfoWriteTime = 1, kInfoIndex = 2, kInfoMetaCount = 3, kInfoHold = 4, kInfoLength = 5 };

int64_t DeadlineAfter(double timeoutMs) {
  if (timeoutMs < 0) return kNoDeadline;
  return MonotonicNs() + static_cast<int64_t>(timeoutMs * 1e6);
}

// The bytes behind a TypedArray of exactly `expected` bytes, in one Node-API
// call. TypeScript hands Float16Array frames over as Uint16Array.
void* Bytes(Napi::Env env, Napi::Value value, size_t expected) {
  napi_typedarray_type type = napi_uint8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) {
    throw Napi::TypeError::New(env, "expected a TypedArray");
  }
  size_t elementSize = 0;
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: elementSize = 1; break;
    case napi_int16_array:
    case napi_uint16_array: elementSize = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elementSize = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elementSize = 8; break;
    default: throw Napi::TypeError::New(env, "unsupported TypedArray");
  }
  if (length * elementSize != expected) throw Napi::RangeError::New(env, "view byte length differs from the payload");
  return data;
}

void Detach(Napi::Reference<Napi::ArrayBuffer>& buffer) {
  if (buffer.IsEmpty()) return;
  Napi::ArrayBuffer value = buffer.Value();
  if (!value.IsDetached()) value.Detach();
  buffer.Reset();
}

}  // namespace

void NativeRing::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeRing",
                                    {
                                        InstanceMethod<&NativeRing::Write>("write"),
                                        InstanceMethod<&NativeRing::Loan>("loan"),
                                        InstanceMethod<&NativeRing::Publish>("publish"),
                                        InstanceMethod<&NativeRing::Abandon>("abandon"),
                                        InstanceMethod<&NativeRing::Take>("take"),
                                        InstanceMethod<&NativeRing::TakeSample>("takeSample"),
                                        InstanceMethod<&NativeRing::Newest>("newest"),
                                        InstanceMethod<&NativeRing::ReleaseSample>("releaseSample"),
                                        InstanceMethod<&NativeRing::Cursor>("cursor"),
                                        InstanceMethod<&NativeRing::CopyFrame>("copyFrame"),
                                        InstanceMethod<&NativeRing::RegisterNow>("register"),
                                        InstanceMethod<&NativeRing::Close>("close"),
                                    });
  exports.Set("NativeRing", ctor);
  Napi::Object status = Napi::Object::New(env);
  status.Set("FRAME", static_cast<int>(ring::kFrame));
  status.Set("NOTHING", static_cast<int>(ring::kNothing));
  status.Set("LOCK_BUSY", static_cast<int>(ring::kLockBusy));
  status.Set("BLOCKED", static_cast<int>(ring::kBlocked));
  status.Set("HOLD_LIMIT", static_cast<int>(ring::kHoldLimit));
  status.Set("NO_READER_ENTRY", static_cast<int>(ring::kNoReaderEntry));
  status.Set("TRUNCATED", static_cast<int>(ring::kTruncated));
  status.Set("CORRUPT", static_cast<int>(ring::kCorrupt));
  exports.Set("ringStatus", status);
}

// new NativeRing(metaBuffer, dataBuffer, layout, info): metaBuffer and
// dataBuffer are the handle's NativeStream buffers; layout (validated by
// src/format/ring.ts against the objects' sizes) holds the byte offsets and
// geometry; info, a Float64Array of 5, receives each frame's count, write
// time, ring index, the count seen when nothing was new, and a sample's hold.
NativeRing::NativeRing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRing>(info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer meta = info[0].As<Napi::ArrayBuffer>();
  Napi::ArrayBuffer data = info[1].As<Napi::ArrayBuffer>();
  Napi::Object layout = info[2].As<Napi::Object>();
  Napi::Float64Array infoArray = info[3].As<Napi::Float64Array>();
  if (infoArray.ElementLength() < kInfoLength) throw Napi::RangeError::New(env, "info array too short");
  auto number = [&](const char* key) { return static_cast<uint64_t>(layout.Get(key).As<Napi::Number>().Int64Value()); };
  auto* metaBase = static_cast<uint8_t*>(meta.Data());
  uint64_t controlOffset = number("controlOffset");
  geometry_.control = metaBase + controlOffset;
  geometry_.meta = reinterpret_cast<double*>(metaBase);
  geometry_.data = static_cast<uint8_t*>(data.Data());
  geometry_.slots = number("slots");
  geometry_.stride = number("stride");
  geometry_.slots_offset = number("slotsOffset");
  geometry_.frame_bytes = number("frameBytes");
  geometry_.readers = static_cast<uint32_t>(number("readers"));
  geometry_.block = layout.Get("block").ToBoolean();
  geometry_.pyshmem_frame = layout.Get("pyshmemFrame").ToBoolean();
  uint64_t controlEnd = controlOffset + ring::kSlotHeaders + geometry_.slots * ring::kSlotHeaderBytes +
                        geometry_.readers * ring::kReaderEntryBytes;
  uint64_t wakeSlotCount = number("wakeSlotCount");
  if (geometry_.slots < 2 || controlEnd > meta.ByteLength() || number("wakeSlots") + wakeSlotCount * 16 > meta.ByteLength() ||
      geometry_.stride < geometry_.frame_bytes || geometry_.slots_offset < geometry_.frame_bytes ||
      geometry_.slots_offset + geometry_.slots * geometry_.stride > data.ByteLength()) {
    throw Napi::RangeError::New(env, "ring layout past its objects");
  }
  geometry_.notify = reinterpret_cast<uint32_t*>(metaBase + number("notifyWord"));
  geometry_.wake = WakeSlots(metaBase + number("wakeSlots"), static_cast<uint32_t>(wakeSlotCount),
                             reinterpret_cast<uint32_t*>(metaBase + number("wakeWaiting")));
  ring_ = ring::Ring(geometry_);
  meta_buffer_ = Napi::Persistent(meta);
  data_buffer_ = Napi::Persistent(data);
  info_array_ = Napi::Persistent(infoArray);
  info_ = infoArray.Data();
  cursor_ = ring_.LoadHead();
}

NativeRing::~NativeRing() {
  // Collected without close(): give the reader entry back (the buffers the
  // references keep alive are being collected too).
  if (!closed_ && entry_ >= 0) ring_.ReleaseReader(entry_);
}

void NativeRing::CheckOpen(Napi::Env env) const {
  if (closed_) throw Napi::Error::New(env, "ring is closed");
}

// A reader registers on its first next-frame read or wait (or register()); a full table leaves it
// unregistered: it still reads, but block-mode writers do not wait for it
// and it can hold no sample.
void NativeRing::Register() {
  if (registration_tried_) return;
  registration_tried_ = true;
  entry_ = ring_.ClaimReader(static_cast<uint32_t>(getpid()), cursor_);
}

void NativeRing::Report(const ring::FrameInfo& frame, double metaCount, int hold) {
  info_[kInfoCount] = frame.count;
  info_[kInfoWriteTime] = frame.write_time;
  info_[kInfoIndex] = static_cast<double>(frame.index);
  info_[kInfoMetaCount] = metaCount;
  info_[kInfoHold] = hold;
}

// A fresh ArrayBuffer over the slot, made with V8's API because Node-API
// cannot make one V8 leaves out of its external-memory accounting: Node-API's
// external buffers count their whole length as memory the garbage collector
// should reclaim, so a 381 MiB sample per frame forced a full collection
// every few frames. A backing store with V8's empty deleter is not counted
// (it frees nothing); the mapping outlives it (data_buffer_ keeps it, and
// close() detaches every such buffer before the mapping goes). Node-API
// callbacks run inside a handle scope, and a napi_value is a V8 local handle.
Napi::ArrayBuffer NativeRing::SlotBuffer(Napi::Env env, uint64_t slot) const {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(ring_.SlotBytes(slot), geometry_.frame_bytes, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::Value> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  napi_value value;
  static_assert(sizeof value == sizeof buffer, "a napi_value is a v8::Local");
  std::memcpy(&value, &buffer, sizeof value);
  return Napi::ArrayBuffer(env, value);
}

// write(source | null, lockFd, timeoutMs) -> status. Loans, copies source
// (zeros for null) and publishes in one call. lockFd >= 0: takes that flock
// itself without waiting (LOCK_BUSY if held elsewhere); -1: the caller holds
// it. Block mode waits up to timeoutMs (< 0: no limit) for room, blocking
// the thread (BLOCKED after that).
Napi::Value NativeRing::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* source = info[0].IsNull() ? nullptr : Bytes(env, info[0], geometry_.frame_bytes);
  int lockFd = info[1].As<Napi::Number>().Int32Value();
  int64_t deadline = DeadlineAfter(info[2].As<Napi::Number>().DoubleValue());
  if (loaned_) throw Napi::Error::New(env, "a loan is outstanding");
  if (lockFd >= 0) {
    while (flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Napi::Number::New(env, ring::kLockBusy);
      if (errno != EINTR) ThrowSystemError(env, errno, "flock");
    }
    StoreField(geometry_.meta, kLockOwnerPid, static_cast<double>(getpid()), __ATOMIC_RELAXED);
    StoreField(geometry_.meta, kLockDepth, 1, __ATOMIC_RELAXED);
  }
  uint64_t index = 0;
  uint64_t slot = 0;
  ring::Status status = ring_.BeginWrite(deadline, &index, &slot);
  if (status == ring::kFrame) {
    uint8_t* bytes = ring_.SlotBytes(slot);
    bool copied = source == nullptr ? GuardedZero(bytes, geometry_.frame_bytes) : GuardedCopy(bytes, source, geometry_.frame_bytes);
    status = copied ? ring_.Publish(index, slot) : ring::kTruncated;
  }
  if (lockFd >= 0) {
    StoreField(geometry_.meta, kLockOwnerPid, 0, __ATOMIC_RELAXED);
    StoreField(geometry_.meta, kLockDepth, 0, __ATOMIC_RELAXED);
    flock(lockFd, LOCK_UN);
  }
  return Napi::Number::New(env, status);
}

// loan(timeoutMs) -> an ArrayBuffer over the next slot, or a status. The
// caller holds the flock until publish() or abandon().
Napi::Value NativeRing::Loan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (loaned_) throw Napi::Error::New(env, "a loan is outstanding");
  ring::Status status = ring_.BeginWrite(DeadlineAfter(info[0].As<Napi::Number>().DoubleValue()), &loan_index_, &loan_slot_);
  if (status != ring::kFrame) return Napi::Number::New(env, status);
  loaned_ = true;
  Napi::ArrayBuffer buffer = SlotBuffer(env, loan_slot_);
  loan_buffer_ = Napi::Persistent(buffer);
  return buffer;
}

// publish() -> status: detaches the loan's buffer and publishes its frame.
Napi::Value NativeRing::Publish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!loaned_) throw Napi::Error::New(env, "no loan outstanding");
  Detach(loan_buffer_);
  loaned_ = false;
  return Napi::Number::New(env, ring_.Publish(loan_index_, loan_slot_));
}

// abandon(): detaches the loan's buffer; nothing is published.
Napi::Value NativeRing::Abandon(const Napi::CallbackInfo& info) {
  if (loaned_) {
    Detach(loan_buffer_);
    loaned_ = false;
    ring_.Abandon(loan_slot_);
  }
  return info.Env().Undefined();
}

// take(destination, lastCount) -> FRAME (copied; info filled), NOTHING
// (info[metaCount] = the count to wait on), or an error status.
Napi::Value NativeRing::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* destination = Bytes(env, info[0], geometry_.frame_bytes);
  double lastCount = info[1].As<Napi::Number>().DoubleValue();
  Register();
  ring::FrameInfo frame;
  double metaCount = 0;
  uint64_t before = cursor_;
  ring::Status status = ring_.Take(&cursor_, lastCount, destination, -1, 0, &frame, &metaCount);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, metaCount, -1);
  return Napi::Number::New(env, status);
}

// takeSample(lastCount) -> an ArrayBuffer over the held slot (info filled,
// info[hold] = its hold), or a status: NOTHING, HOLD_LIMIT, NO_READER_ENTRY.
Napi::Value NativeRing::TakeSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  double lastCount = info[0].As<Napi::Number>().DoubleValue();
  Register();
  if (entry_ < 0) return Napi::Number::New(env, ring::kNoReaderEntry);
  int hold = -1;
  for (uint32_t i = 0; i < ring::kHoldsPerReader && hold < 0; ++i) {
    if (samples_[i].IsEmpty()) hold = static_cast<int>(i);
  }
  if (hold < 0) return Napi::Number::New(env, ring::kHoldLimit);
  ring::FrameInfo frame;
  double metaCount = 0;
  uint64_t before = cursor_;
  ring::Status status = ring_.Take(&cursor_, lastCount, nullptr, entry_, static_cast<uint32_t>(hold), &frame, &metaCount);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, metaCount, hold);
  if (status != ring::kFrame) return Napi::Number::New(env, status);
  Napi::ArrayBuffer buffer = SlotBuffer(env, ring_.SlotOf(frame.index));
  samples_[hold] = Napi::Persistent(buffer);
  return buffer;
}

// newest(destination) -> FRAME (the newest ring frame, copied; the cursor
// moves to it) or NOTHING (no frame yet). Does not register: a handle that
// only looks at the newest frame (a monitor) never holds writers back.
Napi::Value NativeRing::Newest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* destination = Bytes(env, info[0], geometry_.frame_bytes);
  ring::FrameInfo frame;
  uint64_t before = cursor_;
  ring::Status status = ring_.TakeNewest(&cursor_, destination, &frame);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, 0, -1);
  return Napi::Number::New(env, status);
}

// releaseSample(hold): detaches the sample's buffer and lets writers reuse its slot.
Napi::Value NativeRing::ReleaseSample(const Napi::CallbackInfo& info) {
  uint32_t hold = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || hold >= ring::kHoldsPerReader || samples_[hold].IsEmpty()) return info.Env().Undefined();
  Detach(samples_[hold]);
  ring_.ReleaseHold(entry_, hold);
  return info.Env().Undefined();
}

// copyFrame(index, destination) -> FRAME (info filled) if the ring still
// holds frame `index`, else NOTHING. Moves no cursor; registers nothing.
Napi::Value NativeRing::CopyFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  double index = info[0].As<Napi::Number>().DoubleValue();
  void* destination = Bytes(env, info[1], geometry_.frame_bytes);
  ring::FrameInfo frame;
  ring::Status status = index < 1 ? ring::kNothing : ring_.CopyFrame(static_cast<uint64_t>(index), destination, &frame);
  Report(frame, 0, -1);
  return Napi::Number::New(env, status);
}

// register() -> true if this handle has (now) an entry in the reader table.
Napi::Value NativeRing::RegisterNow(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  Register();
  return Napi::Boolean::New(info.Env(), entry_ >= 0);
}

// cursor() -> the ring index of the last frame this handle consumed.
Napi::Value NativeRing::Cursor(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(cursor_)); }

void NativeRing::ReleaseEverything() {
  if (loaned_) {
    Detach(loan_buffer_);
    loaned_ = false;
  }
  for (auto& sample : samples_) Detach(sample);
  if (entry_ >= 0) ring_.ReleaseReader(entry_);
  entry_ = -1;
}

// close(): detaches the loan's and samples' buffers, leaves the reader
// table. Before the NativeStream's close, which unmaps. Idempotent.
Napi::Value NativeRing::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    ReleaseEverything();
    closed_ = true;
    meta_buffer_.Reset();
    data_buffer_.Reset();
    info_array_.Reset();
  }
  return info.Env().Undefined();
}

void InitRing(Napi::Env env, Napi::Object exports) { NativeRing::Init(env, exports); }

}  // namespace tsshmem
