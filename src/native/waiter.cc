#include "waiter.h"

#include <algorithm>

#include "futex.h"
#include "shared_fields.h"

namespace tsshmem {

namespace {

// Writers from pyshmem wake nobody, so a sleeping reader re-checks the count
// at least this often.
constexpr int64_t kSleepSliceNs = 1000000;

double LoadCount(const WaitTarget& target) { return LoadField(target.meta, kCount, __ATOMIC_ACQUIRE); }

double SpinForNewCount(const WaitTarget& target, double lastCount, int64_t spinNs) {
  int64_t until = MonotonicNs() + spinNs;
  for (;;) {
    double count = LoadCount(target);
    if (count != lastCount) return count;
    for (int i = 0; i < 32; ++i) CpuRelax();
    if (MonotonicNs() >= until) return lastCount;
  }
}

// One sleep of at most sliceNs; returns the count seen before sleeping if it is new.
double SleepOnce(const WaitTarget& target, double lastCount, int64_t sliceNs) {
  if (target.notify == nullptr) {
    double count = LoadCount(target);
    if (count != lastCount) return count;
    SleepNs(sliceNs);
    return lastCount;
  }
  // Register as a waiter before reading the count: a writer bumps notify and
  // then reads waiters (both sequentially consistent), so either it sees us
  // and wakes us, or we see its count or its notify value and do not sleep.
  __atomic_fetch_add(target.waiters, 1, __ATOMIC_SEQ_CST);
  uint32_t seen = __atomic_load_n(target.notify, __ATOMIC_SEQ_CST);
  double count = LoadField(target.meta, kCount, __ATOMIC_SEQ_CST);
  if (count == lastCount) FutexWait(target.notify, seen, sliceNs);
  __atomic_fetch_sub(target.waiters, 1, __ATOMIC_SEQ_CST);
  return count;
}

}  // namespace

double WaitForNewCount(const WaitTarget& target, double lastCount, int64_t deadlineNs, int64_t spinNs,
                       const std::atomic<bool>* cancel) {
  if (spinNs > 0) {
    double count = SpinForNewCount(target, lastCount, spinNs);
    if (count != lastCount) return count;
  }
  for (;;) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return kWaitCancelled;
    int64_t now = MonotonicNs();
    if (now >= deadlineNs) {
      double count = LoadCount(target);
      return count != lastCount ? count : kWaitTimedOut;
    }
    double count = SleepOnce(target, lastCount, std::min(kSleepSliceNs, deadlineNs - now));
    if (count != lastCount) return count;
    count = LoadCount(target);
    if (count != lastCount) return count;
  }
}

void NotifyWaiters(const WaitTarget& target) {
  if (target.notify == nullptr) return;
  __atomic_fetch_add(target.notify, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(target.waiters, __ATOMIC_SEQ_CST) != 0) FutexWakeAll(target.notify);
}

Waiter::Waiter(Napi::Env env, WaitTarget target) : target_(target) {
  settle_ = SettleFunction::New(env, "tsshmem.wait", 0, 1, this);
  settle_.Unref(env);
}

Waiter::~Waiter() { Stop(); }

Napi::Promise Waiter::Start(Napi::Env env, Napi::Object owner, double lastCount, int64_t deadlineNs) {
  if (!thread_.joinable()) thread_ = std::thread(&Waiter::Run, this);
  deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
  owner_ = Napi::Persistent(owner);
  cancel_.store(false, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_count_ = lastCount;
    deadline_ns_ = deadlineNs;
    has_request_ = true;
  }
  wake_.notify_one();
  settle_.Ref(env);
  return deferred_->Promise();
}

void Waiter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  Cancel();
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  settle_.Release();
}

void Waiter::Run() {
  for (;;) {
    double lastCount;
    int64_t deadlineNs;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return has_request_ || stopping_; });
      if (stopping_) return;
      has_request_ = false;
      lastCount = last_count_;
      deadlineNs = deadline_ns_;
    }
    double result = WaitForNewCount(target_, lastCount, deadlineNs, 0, &cancel_);
    if (settle_.BlockingCall(new double(result)) != napi_ok) return;
  }
}

void Waiter::Settle(Napi::Env env, Napi::Function, Waiter* self, double* result) {
  std::unique_ptr<double> owned(result);
  if (env == nullptr || self->deferred_ == nullptr) return;
  std::unique_ptr<Napi::Promise::Deferred> deferred = std::move(self->deferred_);
  self->owner_.Reset();
  if (!self->stopping_) self->settle_.Unref(env);
  deferred->Resolve(Napi::Number::New(env, *owned));
}

}  // namespace tsshmem
