// Waiting for the next completed write: the loop shared by synchronous and
// asynchronous waits, and the per-stream thread that runs asynchronous waits
// off the event loop (and off libuv's thread pool, which 64 concurrent waits
// would otherwise exhaust).
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace tsshmem {

// What a waiting loop looks at: the count field, and tsshmem's futex words
// when the stream has the extension area (null for a pyshmem-created stream).
struct WaitTarget {
  const double* meta = nullptr;
  uint32_t* notify = nullptr;
  uint32_t* waiters = nullptr;
};

constexpr double kWaitTimedOut = -1;
constexpr double kWaitCancelled = -2;

// Returns the first count different from lastCount, or kWaitTimedOut /
// kWaitCancelled. Spins for spinNs first, then sleeps in the kernel.
double WaitForNewCount(const WaitTarget& target, double lastCount, int64_t deadlineNs, int64_t spinNs,
                       const std::atomic<bool>* cancel);

// Bumps the notify word and wakes sleepers, if any are registered.
void NotifyWaiters(const WaitTarget& target);

class Waiter {
 public:
  Waiter(Napi::Env env, WaitTarget target);
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  bool Pending() const { return deferred_ != nullptr; }
  // Starts one wait; owner (the JS stream object) is kept alive until it settles.
  Napi::Promise Start(Napi::Env env, Napi::Object owner, double lastCount, int64_t deadlineNs);
  void Cancel() { cancel_.store(true, std::memory_order_relaxed); }
  // Cancels a pending wait and joins the thread; the target may be unmapped after.
  void Stop();

 private:
  static void Settle(Napi::Env env, Napi::Function, Waiter* self, double* result);
  using SettleFunction = Napi::TypedThreadSafeFunction<Waiter, double, &Waiter::Settle>;

  void Run();

  WaitTarget target_;
  SettleFunction settle_;
  std::unique_ptr<Napi::Promise::Deferred> deferred_;
  Napi::ObjectReference owner_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool has_request_ = false;
  bool stopping_ = false;
  double last_count_ = 0;
  int64_t deadline_ns_ = 0;
  std::atomic<bool> cancel_{false};
};

}  // namespace tsshmem
