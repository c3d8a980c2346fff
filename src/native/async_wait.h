// Asynchronous waits for the next completed write, run by the event loop of
// the waiting thread (libuv), with no thread of their own and none of
// libuv's pool: a wake socket (see wake_slots.h) brings tsshmem writers'
// wakes straight into the loop. Writers that wake nobody (pyshmem) and
// deadlines are caught by one timer per loop.
//
// The timer ticks every millisecond while a wait may have a silent writer: a
// stream without the extension area, or one whose count has run ahead of its
// notify word (tsshmem writers bump both, pyshmem writers only the count).
// Otherwise it ticks every 10 ms, or at the nearest deadline: a tick costs
// ~20 us of CPU on a virtual machine, so 1 ms ticks alone would cost an idle
// reader about 2% of a core.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "wake_slots.h"

namespace tsshmem {

class LoopWaits;

class AsyncWait {
 public:
  // notify: tsshmem's notify word, null for a stream without the extension area.
  AsyncWait(Napi::Env env, const double* meta, const uint32_t* notify, WakeSlots slots);
  ~AsyncWait();
  AsyncWait(const AsyncWait&) = delete;
  AsyncWait& operator=(const AsyncWait&) = delete;

  bool Pending() const { return pending_; }
  // When this wait wants the loop's timer to look at it next.
  int64_t NextCheckNs(int64_t nowNs) const;
  // Calls callback(result) once a count other than lastCount is seen
  // (result = that count), or with -1 at the deadline, -2 when cancelled;
  // possibly before Start returns.
  void Start(Napi::Function callback, double lastCount, int64_t deadlineNs);
  void Cancel();
  // Ends a pending wait (settling it with -2 if settle) and frees the slot,
  // socket and loop handle; the metadata may be unmapped afterwards.
  void Close(bool settle);
  void Check();
  // The loop's environment is being torn down: forget the loop.
  void Detach();

 private:
  void OpenWakeSocket();
  void Settle(double result);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  bool SilentWritesSeen() const;

  Napi::Env env_;
  LoopWaits* loop_waits_;
  const double* meta_;
  const uint32_t* notify_;
  WakeSlots slots_;
  bool may_have_silent_writer_ = true;
  bool wake_socket_tried_ = false;
  int slot_ = -1;
  WakeSocket socket_;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
  double last_count_ = 0;
  int64_t deadline_ns_ = 0;
  bool pending_ = false;
  bool closed_ = false;
};

// The pending waits of one event loop and their timer; one per Node-API
// environment (main thread or worker).
class LoopWaits {
 public:
  static LoopWaits& For(Napi::Env env);
  explicit LoopWaits(uv_loop_t* loop);
  ~LoopWaits();

  uv_loop_t* loop() const { return loop_; }
  // Every AsyncWait of this loop, pending or not, so that teardown can detach them.
  void Register(AsyncWait* wait);
  void Unregister(AsyncWait* wait);
  void Add(AsyncWait* wait);
  void Remove(AsyncWait* wait);

 private:
  // Starts the timer for the earliest check any pending wait wants, unless it
  // already fires by then. Starting a libuv timer makes no system call.
  void Schedule();
  static void OnTick(uv_timer_t* timer);

  uv_loop_t* loop_;
  uv_timer_t* timer_;
  int64_t planned_tick_ns_ = 0;
  std::vector<AsyncWait*> pending_;
  std::vector<AsyncWait*> registered_;
};

}  // namespace tsshmem
