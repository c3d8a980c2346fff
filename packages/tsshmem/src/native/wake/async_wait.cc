#include "wake/async_wait.h"

#include <algorithm>
#include <atomic>
#include <unistd.h>

#include "clock.h"
#include "protocol/frame_protocol.h"
#include "wake/sync_wait.h"
#include "wake/uv_handles.h"
#include "timing.h"

namespace tsshmem {

AsyncWait::AsyncWait(Napi::Env env, const double* meta, int guardEntry, const uint32_t* notify, WakeSlots slots, int lockFd,
                     WaitStats* stats)
    : env_(env),
      loop_waits_(&LoopWaits::For(env)),
      meta_(meta),
      guard_entry_(guardEntry),
      notify_(notify),
      slots_(slots),
      lock_fd_(lockFd),
      stats_(stats),
      context_(env, "tsshmem.wait") {
  loop_waits_->Register(this);
  if (lock_fd_ >= 0) lock_file_opens_ = loop_waits_->WatchLockFile(lock_fd_);
}

// A stream without the extension area (pyshmem created it) has no notify
// word, so every writer is silent. On the others, a writer that wakes nobody
// holds the lock file open for writing (silent_writers.h).
bool AsyncWait::MayHaveSilentWriter() {
  if (notify_ == nullptr || lock_fd_ < 0) return true;
  if (lock_file_opens_ == nullptr || *lock_file_opens_ != lock_probe_opens_) {
    lock_writers_ = ProbeLockFileWriters(lock_fd_);
    lock_probe_opens_ = lock_file_opens_ == nullptr ? kProbeStale : *lock_file_opens_;
  }
  return lock_writers_ != LockFileWriters::kNone;
}

AsyncWait::~AsyncWait() {
  Close(false);
  if (loop_waits_ != nullptr) loop_waits_->Unregister(this);
}

// Node finalizes the environment's instance data (LoopWaits) before the
// objects that own waits; their later Close must not reach the loop.
void AsyncWait::Detach() {
  loop_waits_ = nullptr;
  lock_file_opens_ = nullptr;
  if (state_ != AsyncWaitState::kClosed) state_ = AsyncWaitState::kDetached;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    CloseAndFree(poll_);
    poll_ = nullptr;
  }
  relay_.reset();
}

// Once per handle: with every slot taken by live processes, the handle is
// served by the timer's checks and keeps no socket nobody can wake.
void AsyncWait::ChooseWakePath() {
  wake_path_ = WakePath::kTimerOnly;
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
  if (uv_poll_init(loop_waits_->loop(), poll_, socket_.fd()) != 0) {
    delete poll_;
    poll_ = nullptr;
    slots_.Release(slot_);
    slot_ = -1;
    socket_.Close();
    return;
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  wake_path_ = WakePath::kSocket;
}

void AsyncWait::Start(Napi::Function callback, double lastCount, int64_t deadlineNs) {
  if (wake_path_ == WakePath::kNotChosen) ChooseWakePath();
  if (socket_unreachable_) RelayThroughFutex();
  callback_ = Napi::Persistent(callback);
  last_count_ = lastCount;
  deadline_ns_ = deadlineNs;
  state_ = AsyncWaitState::kWaiting;
  uint32_t seen = 0;
  if (wake_path_ == WakePath::kSocket) {
    slots_.EnterWaiting(slot_);
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    // seq_cst fence: the slot is marked before the count is loaded (an
    // acquire load, which alone may be ordered before the marking); pairs
    // with the writer's fetch_add of the notify word before it reads the
    // slots (NotifyWaiters): either it sees the slot, or we see its count.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else if (wake_path_ == WakePath::kFutexRelay) {
    // As a sleeper does (SleepOnce): marked SLEEPING (a seq_cst RMW), then
    // the notify word, then the count. Pairs with the writer's fetch_add of
    // the notify word before it reads the slots: either it sees us SLEEPING
    // and wakes the futex, or we see its count, or the word moved past seen
    // and the relay's FUTEX_WAIT returns at once.
    slots_.EnterSleeping(slot_);
    seen = __atomic_load_n(notify_, __ATOMIC_SEQ_CST);
  }
  // A write may have landed before the slot was marked.
  if (!Check(WaitEnd::kImmediate)) return;
  if (wake_path_ == WakePath::kFutexRelay) relay_->Sleep(seen, kIdleCheckNs);
  loop_waits_->Add(this);
}

int64_t AsyncWait::NextCheckNs(int64_t nowNs) const {
  return std::min(deadline_ns_, nowNs + (may_have_silent_writer_ ? kSilentWriterCheckNs : kIdleCheckNs));
}

bool AsyncWait::Check(WaitEnd found) {
  if (!Waiting()) return false;
  double count = ObserveCount(meta_, guard_entry_);
  if (count != last_count_) {
    Settle(count, found);
    return false;
  }
  if (MonotonicNs() >= deadline_ns_) {
    Settle(AsResult(Status::kTimedOut), WaitEnd::kTimedOut);
    return false;
  }
  may_have_silent_writer_ = MayHaveSilentWriter();
  return true;
}

// A re-check that finds the writer's wake byte already waiting for the poll
// (the timer ran first in this loop turn) counts as woken.
void AsyncWait::Recheck() {
  if (!Waiting()) return;
  bool wakeArrived = wake_path_ == WakePath::kSocket && ObserveCount(meta_, guard_entry_) != last_count_ && socket_.HasPendingWake();
  Check(wakeArrived ? WaitEnd::kWoken : WaitEnd::kRechecked);
}

// The lock file's watch makes the answer current between ticks; each tick
// asks again anyway (two system calls), so a writer leaving, or an open the
// watch cannot see (a file system without inotify events), costs one tick at
// most.
void AsyncWait::Tick() {
  lock_probe_opens_ = kProbeStale;
  Recheck();
}

void AsyncWait::Cancel() {
  if (Waiting()) Settle(AsResult(Status::kCancelled), WaitEnd::kCancelled);
}

void AsyncWait::Settle(double result, WaitEnd end) {
  state_ = AsyncWaitState::kIdle;
  stats_->Record(end);
  if (wake_path_ == WakePath::kSocket) {
    socket_unreachable_ = !slots_.LeaveWaiting(slot_);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  } else if (wake_path_ == WakePath::kFutexRelay) {
    slots_.Leave(slot_);
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
  if (state_ == AsyncWaitState::kClosed) return;
  if (Waiting()) {
    if (settle) {
      Settle(AsResult(Status::kCancelled), WaitEnd::kCancelled);
    } else {
      loop_waits_->Remove(this);
    }
  }
  state_ = AsyncWaitState::kClosed;
  if (lock_file_opens_ != nullptr && loop_waits_ != nullptr) loop_waits_->UnwatchLockFile(lock_file_opens_);
  lock_file_opens_ = nullptr;
  if (slot_ >= 0) slots_.Release(slot_);
  slot_ = -1;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    CloseAndFree(poll_);
    poll_ = nullptr;
  }
  relay_.reset();
}

void AsyncWait::OnReadable(uv_poll_t* handle, int, int) {
  auto* wait = static_cast<AsyncWait*>(handle->data);
  wait->socket_.ReceiveOne();
  wait->Check(WaitEnd::kWoken);
}

// Between waits, kSocket -> kFutexRelay: the slot keeps this handle's claim
// but turns SLEEPING for good, with token 0 so that writers send it no more
// datagrams. Without a helper thread the handle falls back to the timer.
void AsyncWait::RelayThroughFutex() {
  socket_unreachable_ = false;
  uv_poll_stop(poll_);
  CloseAndFree(poll_);
  poll_ = nullptr;
  socket_.Close();
  slots_.SetToken(slot_, 0);
  // The relay only hands the word to futex(2), which never writes it.
  relay_ = std::make_unique<FutexRelay>(loop_waits_->loop(), const_cast<uint32_t*>(notify_), OnRelayWake, this);
  if (relay_->Started()) {
    wake_path_ = WakePath::kFutexRelay;
    return;
  }
  relay_.reset();
  slots_.Release(slot_);
  slot_ = -1;
  wake_path_ = WakePath::kTimerOnly;
}

// Each sleep's end: a wake, the word moving before the sleep, or the slice
// running out. The next sleep's word is loaded before the count, as at Start.
void AsyncWait::OnRelayWake(void* context, FutexEnd end) {
  auto* wait = static_cast<AsyncWait*>(context);
  if (!wait->Waiting()) return;
  uint32_t seen = __atomic_load_n(wait->notify_, __ATOMIC_SEQ_CST);
  if (wait->Check(end == FutexEnd::kTimedOut ? WaitEnd::kRechecked : WaitEnd::kWoken)) wait->relay_->Sleep(seen, kIdleCheckNs);
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

const uint64_t* LoopWaits::WatchLockFile(int fd) {
  if (!lock_file_watch_) {
    lock_file_watch_ = std::make_unique<LockFileWatch>(loop_, [this](const uint64_t* opens) { OnLockFileOpen(opens); });
  }
  return lock_file_watch_->Watch(fd);
}

void LoopWaits::UnwatchLockFile(const uint64_t* opens) {
  if (lock_file_watch_) lock_file_watch_->Unwatch(opens);
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
  // Once: a wait settled at once whose callback started it again is added
  // by that inner Start already.
  if (std::find(pending_.begin(), pending_.end(), wait) == pending_.end()) pending_.push_back(wait);
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

template <typename Visit>
void LoopWaits::VisitPending(Visit visit) {
  std::vector<AsyncWait*> snapshot = pending_;
  for (AsyncWait* wait : snapshot) {
    if (std::find(pending_.begin(), pending_.end(), wait) != pending_.end()) visit(wait);
  }
}

void LoopWaits::OnTick(uv_timer_t* timer) {
  auto* waits = static_cast<LoopWaits*>(timer->data);
  waits->VisitPending([](AsyncWait* wait) { wait->Tick(); });
  if (!waits->pending_.empty()) waits->Schedule();
}

// The last probe of the waits on that file (of every wait, when opens is
// null) is now stale. The timer may have been planned 10 ms ahead; Schedule
// moves it earlier if a wait now wants 1 ms checks.
void LoopWaits::OnLockFileOpen(const uint64_t* opens) {
  VisitPending([opens](AsyncWait* wait) {
    if (opens == nullptr || wait->CountsOpens(opens)) wait->Recheck();
  });
  if (!pending_.empty()) Schedule();
}

}  // namespace tsshmem
