#include "async_wait.h"

#include <algorithm>
#include <unistd.h>

#include "futex.h"
#include "sync_wait.h"

namespace tsshmem {

namespace {

constexpr int64_t kSilentWriterTickNs = 1000000;
constexpr int64_t kIdleTickNs = 10000000;

template <typename Handle>
void CloseAndFree(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
}

}  // namespace

AsyncWait::AsyncWait(Napi::Env env, const double* meta, const uint32_t* notify, WakeSlots slots)
    : env_(env), loop_waits_(&LoopWaits::For(env)), meta_(meta), notify_(notify), slots_(slots), context_(env, "tsshmem.wait") {
  loop_waits_->Register(this);
}

// Every tsshmem write bumps count and then the notify word; a count ahead of
// the notify word (mod 2^32) means some write bumped only the count. Reading
// the count first errs towards missing a silent write, never inventing one.
bool AsyncWait::SilentWritesSeen() const {
  double valid = LoadCount(meta_);
  if (notify_ == nullptr || valid < 0) return true;
  auto count = static_cast<uint32_t>(static_cast<uint64_t>(valid));
  uint32_t notified = __atomic_load_n(notify_, __ATOMIC_ACQUIRE);
  return static_cast<int32_t>(count - notified) > 0;
}

AsyncWait::~AsyncWait() {
  Close(false);
  if (loop_waits_ != nullptr) loop_waits_->Unregister(this);
}

// Node finalizes the environment's instance data (LoopWaits) before the
// objects that own waits; their later Close must not reach the loop.
void AsyncWait::Detach() {
  loop_waits_ = nullptr;
  pending_ = false;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    CloseAndFree(poll_);
    poll_ = nullptr;
  }
}

// Once per handle: with every slot taken by live processes, the handle is
// served by the timer's checks and keeps no socket nobody can wake.
void AsyncWait::OpenWakeSocket() {
  wake_socket_tried_ = true;
  auto pid = static_cast<uint32_t>(getpid());
  if (!slots_.Available() || !socket_.Open(pid)) return;
  slot_ = slots_.Claim(pid, socket_.token());
  if (slot_ < 0) {
    socket_.Close();
    return;
  }
  // Armed for the handle's life (re-arming per wait costs epoll_ctl calls);
  // it keeps the loop alive only while a wait is pending.
  poll_ = new uv_poll_t;
  uv_poll_init(loop_waits_->loop(), poll_, socket_.fd());
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

void AsyncWait::Start(Napi::Function callback, double lastCount, int64_t deadlineNs) {
  if (!wake_socket_tried_) OpenWakeSocket();
  callback_ = Napi::Persistent(callback);
  last_count_ = lastCount;
  deadline_ns_ = deadlineNs;
  may_have_silent_writer_ = SilentWritesSeen();
  pending_ = true;
  if (poll_ != nullptr) {
    slots_.EnterWaiting(slot_);
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  loop_waits_->Add(this);
  // A write may have landed before the slot was marked waiting.
  Check();
}

int64_t AsyncWait::NextCheckNs(int64_t nowNs) const {
  return std::min(deadline_ns_, nowNs + (may_have_silent_writer_ ? kSilentWriterTickNs : kIdleTickNs));
}

void AsyncWait::Check() {
  if (!pending_) return;
  double count = LoadCount(meta_);
  if (count != last_count_) {
    Settle(count);
  } else if (MonotonicNs() >= deadline_ns_) {
    Settle(kWaitTimedOut);
  }
}

void AsyncWait::Cancel() {
  if (pending_) Settle(kWaitCancelled);
}

void AsyncWait::Settle(double result) {
  pending_ = false;
  if (poll_ != nullptr) {
    slots_.Leave(slot_);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  loop_waits_->Remove(this);
  Napi::FunctionReference callback = std::move(callback_);
  Napi::HandleScope scope(env_);
  napi_value argument = Napi::Number::New(env_, result);
  napi_value ignored;
  if (napi_make_callback(env_, context_, env_.Global(), callback.Value(), 1, &argument, &ignored) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env_, &error);
    napi_fatal_exception(env_, error);
  }
}

void AsyncWait::Close(bool settle) {
  if (closed_) return;
  closed_ = true;
  if (pending_) {
    if (settle) {
      Settle(kWaitCancelled);
    } else {
      pending_ = false;
      loop_waits_->Remove(this);
    }
  }
  if (slot_ >= 0) slots_.Release(slot_);
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    CloseAndFree(poll_);
    poll_ = nullptr;
  }
}

void AsyncWait::OnReadable(uv_poll_t* handle, int, int) {
  auto* wait = static_cast<AsyncWait*>(handle->data);
  wait->socket_.ReceiveOne();
  wait->Check();
}

LoopWaits& LoopWaits::For(Napi::Env env) {
  LoopWaits* waits = env.GetInstanceData<LoopWaits>();
  if (waits == nullptr) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    waits = new LoopWaits(loop);
    env.SetInstanceData(waits);
  }
  return *waits;
}

LoopWaits::LoopWaits(uv_loop_t* loop) : loop_(loop), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

LoopWaits::~LoopWaits() {
  for (AsyncWait* wait : registered_) wait->Detach();
  uv_timer_stop(timer_);
  CloseAndFree(timer_);
}

void LoopWaits::Register(AsyncWait* wait) { registered_.push_back(wait); }

void LoopWaits::Unregister(AsyncWait* wait) { registered_.erase(std::remove(registered_.begin(), registered_.end(), wait), registered_.end()); }

// The active timer keeps the loop alive while waits are pending, as a
// setTimeout would.
void LoopWaits::Add(AsyncWait* wait) {
  pending_.push_back(wait);
  Schedule();
}

void LoopWaits::Remove(AsyncWait* wait) {
  auto found = std::find(pending_.begin(), pending_.end(), wait);
  if (found == pending_.end()) return;
  pending_.erase(found);
  if (pending_.empty()) uv_timer_stop(timer_);
}

void LoopWaits::Schedule() {
  int64_t now = MonotonicNs();
  int64_t wanted = INT64_MAX;
  for (const AsyncWait* wait : pending_) wanted = std::min(wanted, wait->NextCheckNs(now));
  bool active = uv_is_active(reinterpret_cast<uv_handle_t*>(timer_)) != 0;
  if (active && planned_tick_ns_ <= wanted) return;
  planned_tick_ns_ = wanted;
  // libuv timers count whole milliseconds: round up, so a deadline is never early.
  uint64_t delayMs = static_cast<uint64_t>((std::max<int64_t>(0, wanted - now) + 999999) / 1000000);
  uv_timer_start(timer_, OnTick, delayMs, 0);
}

void LoopWaits::OnTick(uv_timer_t* timer) {
  auto* waits = static_cast<LoopWaits*>(timer->data);
  // Settling removes from pending_ and may start new waits: check each one
  // of a snapshot that is still pending.
  std::vector<AsyncWait*> snapshot = waits->pending_;
  for (AsyncWait* wait : snapshot) {
    if (std::find(waits->pending_.begin(), waits->pending_.end(), wait) != waits->pending_.end()) wait->Check();
  }
  if (!waits->pending_.empty()) waits->Schedule();
}

}  // namespace tsshmem
