#include "ring/ring_binding.h"

#include <cerrno>
#include <unistd.h>

#include "clock.h"
#include "errors.h"
#include "guard/guarded_copy.h"
#include "guard/mapping_registry.h"
#include "protocol/frame_protocol.h"
#include "stream.h"

namespace tsshmem {

namespace {

// Info slots shared with TypeScript (a Float64Array it passes in).
enum Info : int { kInfoCount = 0, kInfoWriteTime = 1, kInfoIndex = 2, kInfoMetaCount = 3, kInfoHold = 4, kInfoLength = 5 };

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
}

// new NativeRing(metaBuffer, dataBuffer, guardEntry, layout, info, stream):
// stream is the handle's NativeStream (made with ring: true; this takes its
// descriptor of the metadata object), metaBuffer and dataBuffer its buffers and
// guardEntry its entry in the SIGBUS guard's registry (guardEntry()); layout (validated by
// src/format/ring.ts against the objects' sizes) holds the byte offsets and
// geometry; info, a Float64Array of 5, receives each frame's count, write
// time, ring index, the count seen when nothing was new, and a sample's hold.
NativeRing::NativeRing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRing>(info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer meta = info[0].As<Napi::ArrayBuffer>();
  Napi::ArrayBuffer data = info[1].As<Napi::ArrayBuffer>();
  guard_entry_ = info[2].As<Napi::Number>().Int32Value();
  Napi::Object layout = info[3].As<Napi::Object>();
  Napi::Float64Array infoArray = info[4].As<Napi::Float64Array>();
  if (infoArray.ElementLength() < kInfoLength) throw Napi::RangeError::New(env, "info array too short");
  NativeStream* stream = NativeStream::Unwrap(info[5].As<Napi::Object>());
  auto number = [&](const char* key) { return static_cast<uint64_t>(layout.Get(key).As<Napi::Number>().Int64Value()); };
  auto* metaBase = static_cast<uint8_t*>(meta.Data());
  uint64_t controlOffset = number("controlOffset");
  geometry_.control = metaBase + controlOffset;
  geometry_.control_offset = controlOffset;
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
  meta_fd_.Reset(stream->TakeRingMetaDescriptor());
  if (meta_fd_.Get() < 0) throw Napi::Error::New(env, "the stream keeps no descriptor for its ring");
  geometry_.meta_fd = meta_fd_.Get();
  ring_ = ring::Ring(geometry_);
  meta_buffer_ = Napi::Persistent(meta);
  data_buffer_ = Napi::Persistent(data);
  info_array_ = Napi::Persistent(infoArray);
  info_ = infoArray.Data();
  cursor_ = ring_.LoadHead();
  BindHotMethods(env, info.This().As<Napi::Object>());
}

// The methods a hand-over calls once per frame, as own properties bound to
// this instance (CallBound). They live on the object that owns this
// instance, and src/stream/ring-stream.ts only calls them through it, so
// they are never called after it was collected.
void NativeRing::BindHotMethods(Napi::Env env, Napi::Object self) {
  // Defined, not assigned: the prototype's methods are read-only, which
  // makes an assignment of the same name fail silently.
  auto bound = [&](const char* name, Napi::Function function) { return Napi::PropertyDescriptor::Value(name, function, napi_default); };
  self.DefineProperties({
      bound("write", Napi::Function::New<CallBound<&NativeRing::Write>>(env, "write", this)),
      bound("loan", Napi::Function::New<CallBound<&NativeRing::Loan>>(env, "loan", this)),
      bound("publish", Napi::Function::New<CallBound<&NativeRing::Publish>>(env, "publish", this)),
      bound("take", Napi::Function::New<CallBound<&NativeRing::Take>>(env, "take", this)),
      bound("takeSample", Napi::Function::New<CallBound<&NativeRing::TakeSample>>(env, "takeSample", this)),
      bound("releaseSample", Napi::Function::New<CallBound<&NativeRing::ReleaseSample>>(env, "releaseSample", this)),
  });
}

NativeRing::~NativeRing() {
  // Collected without close(): give the reader entry back (the buffers the
  // references keep alive are being collected too).
  // The descriptor (meta_fd_) closes after this, unlocking the entry.
  if (!closed_ && entry_ >= 0 && (LostBits(guard_entry_) & kLostMetadata) == 0) ring_.ReleaseReader(entry_);
}

// Drops whatever liveness lock is left with it (a lost metadata object's
// entry); the ring keeps no stale descriptor number.
void NativeRing::CloseMetaDescriptor() {
  meta_fd_.Reset();
  geometry_.meta_fd = -1;
  ring_ = ring::Ring(geometry_);
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

// The loss a truncation by another process caused (the guard then mapped
// zeros over the mapping, which must not pass for frames or ring state):
// kMetadataLost, kTruncated, or kPublished when nothing is lost.
Status NativeRing::Loss() const {
  int32_t lost = LostBits(guard_entry_);
  if ((lost & kLostMetadata) != 0) return Status::kMetadataLost;
  if ((lost & kLostData) != 0) return Status::kTruncated;
  return Status::kPublished;
}

// An operation's status, unless the mappings were lost meanwhile.
Napi::Value NativeRing::Outcome(Napi::Env env, Status status) const {
  Status lost = Loss();
  return Napi::Number::New(env, AsResult(lost != Status::kPublished ? lost : status));
}

double NativeRing::SlotOffset(uint64_t slot) const { return static_cast<double>(geometry_.slots_offset + slot * geometry_.stride); }

// write(source | null, lockFd, timeoutMs) -> Status. Loans, copies source
// (zeros for null) and publishes in one call: PUBLISHED, LOCK_BUSY,
// NO_ROOM, TRUNCATED, CORRUPT or METADATA_LOST. lockFd >= 0: takes that
// flock itself without waiting (LOCK_BUSY if held elsewhere); -1: the caller
// holds it. Block mode waits up to timeoutMs (< 0: no limit) for room,
// blocking the thread (NO_ROOM after that).
Napi::Value NativeRing::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* source = info[0].IsNull() ? nullptr : Bytes(env, info[0], geometry_.frame_bytes);
  int lockFd = info[1].As<Napi::Number>().Int32Value();
  int64_t deadline = DeadlineAfterMs(info[2].As<Napi::Number>().DoubleValue());
  if (loaned_) throw Napi::Error::New(env, "a loan is outstanding");
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  status = TakeLockUnlessHeld(env, lockFd);
  if (status != Status::kLockTaken) return Outcome(env, status);
  uint64_t index = 0;
  uint64_t slot = 0;
  status = ring_.BeginWrite(deadline, entry_, &index, &slot);
  if (status == Status::kFrame) {
    uint8_t* bytes = ring_.SlotBytes(slot);
    bool copied = source == nullptr ? GuardedZero(bytes, geometry_.frame_bytes) : GuardedCopy(bytes, source, geometry_.frame_bytes);
    status = copied ? ring_.Publish(index, slot) : Status::kTruncated;
  }
  if (lockFd >= 0) ReleaseLock(lockFd, geometry_.meta);
  return Outcome(env, status);
}

Status NativeRing::TakeLockUnlessHeld(Napi::Env env, int lockFd) const {
  if (lockFd < 0) return Status::kLockTaken;
  Status status = TakeLock(lockFd, geometry_.meta, 0, 0);
  if (status == Status::kSystemError) ThrowSystemError(env, errno, "flock");
  return status;
}

// loan(timeoutMs, lockFd) -> the byte offset of the next slot in the data
// object (>= 0), or a Status: LOCK_BUSY, NO_ROOM, TRUNCATED, CORRUPT,
// METADATA_LOST. lockFd >= 0: takes that flock itself without waiting
// (LOCK_BUSY if held elsewhere) and keeps it for the loan, giving it back
// on any failure; -1: the caller holds it. Either way the flock is held
// until publish() or abandon().
Napi::Value NativeRing::Loan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (loaned_) throw Napi::Error::New(env, "a loan is outstanding");
  int64_t deadline = DeadlineAfterMs(info[0].As<Napi::Number>().DoubleValue());
  int lockFd = info[1].As<Napi::Number>().Int32Value();
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  status = TakeLockUnlessHeld(env, lockFd);
  if (status != Status::kLockTaken) return Outcome(env, status);
  status = ring_.BeginWrite(deadline, entry_, &loan_index_, &loan_slot_);
  if (status != Status::kFrame || Loss() != Status::kPublished) {
    if (lockFd >= 0) ReleaseLock(lockFd, geometry_.meta);
    return Outcome(env, status);
  }
  loaned_ = true;
  return Napi::Number::New(env, SlotOffset(loan_slot_));
}

// publish(lockFd) -> Status: publishes the loaned frame (PUBLISHED,
// TRUNCATED, METADATA_LOST). lockFd >= 0: then gives that flock back (the
// caller's last entry); -1: the caller keeps it.
Napi::Value NativeRing::Publish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!loaned_) throw Napi::Error::New(env, "no loan outstanding");
  loaned_ = false;
  int lockFd = info[0].As<Napi::Number>().Int32Value();
  Status status = Loss();
  if (status == Status::kPublished) status = ring_.Publish(loan_index_, loan_slot_);
  // After the publish: the flock orders this frame before the next writer's.
  if (lockFd >= 0) ReleaseLock(lockFd, geometry_.meta);
  return Outcome(env, status);
}

// abandon(lockFd): gives the loaned slot back; nothing is published. lockFd
// as for publish().
Napi::Value NativeRing::Abandon(const Napi::CallbackInfo& info) {
  int lockFd = info[0].As<Napi::Number>().Int32Value();
  if (loaned_) {
    loaned_ = false;
    if (Loss() == Status::kPublished) ring_.Abandon(loan_slot_);
  }
  if (lockFd >= 0 && !closed_) ReleaseLock(lockFd, geometry_.meta);
  return info.Env().Undefined();
}

// take(destination, lastCount) -> FRAME (copied; info filled), NOTHING_NEW
// (info[metaCount] = the count to wait on), or TRUNCATED, CORRUPT,
// METADATA_LOST.
Napi::Value NativeRing::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* destination = Bytes(env, info[0], geometry_.frame_bytes);
  double lastCount = info[1].As<Napi::Number>().DoubleValue();
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  Register();
  ring::FrameInfo frame;
  double metaCount = 0;
  uint64_t before = cursor_;
  status = ring_.Take(&cursor_, lastCount, destination, -1, 0, &frame, &metaCount);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, metaCount, -1);
  return Outcome(env, status);
}

// takeSample(lastCount) -> the byte offset of the held slot in the data
// object (>= 0; info filled, info[hold] = its hold), or a Status:
// NOTHING_NEW, HOLD_LIMIT, NO_READER_ENTRY, TRUNCATED, CORRUPT,
// METADATA_LOST.
Napi::Value NativeRing::TakeSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  double lastCount = info[0].As<Napi::Number>().DoubleValue();
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  Register();
  if (entry_ < 0) return Outcome(env, Status::kNoReaderEntry);
  int hold = -1;
  for (uint32_t i = 0; i < ring::kHoldsPerReader && hold < 0; ++i) {
    if (!holding_[i]) hold = static_cast<int>(i);
  }
  if (hold < 0) return Outcome(env, Status::kHoldLimit);
  ring::FrameInfo frame;
  double metaCount = 0;
  uint64_t before = cursor_;
  status = ring_.Take(&cursor_, lastCount, nullptr, entry_, static_cast<uint32_t>(hold), &frame, &metaCount);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, metaCount, hold);
  if (status != Status::kFrame) return Outcome(env, status);
  holding_[hold] = true;
  if (Loss() != Status::kPublished) return Outcome(env, status);
  return Napi::Number::New(env, SlotOffset(ring_.SlotOf(frame.index)));
}

// newest(destination) -> FRAME (the newest ring frame, copied; the cursor
// moves to it), NOTHING_NEW (no frame yet), or TRUNCATED, CORRUPT,
// METADATA_LOST. Does not register: a handle that only looks at the newest
// frame (a monitor) never holds writers back.
Napi::Value NativeRing::Newest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  void* destination = Bytes(env, info[0], geometry_.frame_bytes);
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  ring::FrameInfo frame;
  uint64_t before = cursor_;
  status = ring_.TakeNewest(&cursor_, destination, &frame);
  if (cursor_ != before) ring_.PublishCursor(entry_, cursor_);
  Report(frame, 0, -1);
  return Outcome(env, status);
}

// releaseSample(hold): lets writers reuse the sample's slot.
Napi::Value NativeRing::ReleaseSample(const Napi::CallbackInfo& info) {
  uint32_t hold = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || hold >= ring::kHoldsPerReader || !holding_[hold]) return info.Env().Undefined();
  holding_[hold] = false;
  if (Loss() == Status::kPublished) ring_.ReleaseHold(entry_, hold);
  return info.Env().Undefined();
}

// copyFrame(index, destination) -> FRAME (info filled) if the ring still
// holds frame `index`, else NOTHING_NEW; or TRUNCATED, CORRUPT,
// METADATA_LOST. Moves no cursor; registers nothing.
Napi::Value NativeRing::CopyFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  double index = info[0].As<Napi::Number>().DoubleValue();
  void* destination = Bytes(env, info[1], geometry_.frame_bytes);
  Status status = Loss();
  if (status != Status::kPublished) return Outcome(env, status);
  ring::FrameInfo frame;
  status = index < 1 ? Status::kNothingNew : ring_.CopyFrame(static_cast<uint64_t>(index), destination, &frame);
  Report(frame, 0, -1);
  return Outcome(env, status);
}

// register() -> true if this handle has (now) an entry in the reader table.
// Never on a lost metadata object (the table would be the guard's zeros).
Napi::Value NativeRing::RegisterNow(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  if (Loss() == Status::kPublished) Register();
  return Napi::Boolean::New(info.Env(), entry_ >= 0);
}

// cursor() -> the ring index of the last frame this handle consumed.
Napi::Value NativeRing::Cursor(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(cursor_)); }

void NativeRing::ReleaseEverything() {
  loaned_ = false;
  holding_.fill(false);
  // The reader table lives in the metadata object: a lost one holds zeros.
  if (entry_ >= 0 && (LostBits(guard_entry_) & kLostMetadata) == 0) ring_.ReleaseReader(entry_);
  entry_ = -1;
}

// close(): gives back the loan and the samples and leaves the reader table.
// Before the NativeStream's close, which detaches the data ArrayBuffer (every
// view of a loan or sample becomes empty) and unmaps. Idempotent.
Napi::Value NativeRing::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    ReleaseEverything();
    CloseMetaDescriptor();
    closed_ = true;
    meta_buffer_.Reset();
    data_buffer_.Reset();
    info_array_.Reset();
  }
  return info.Env().Undefined();
}

void InitRing(Napi::Env env, Napi::Object exports) { NativeRing::Init(env, exports); }

}  // namespace tsshmem
