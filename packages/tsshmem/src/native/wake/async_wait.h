// Asynchronous waits for the next completed write, run by the event loop of
// the waiting thread (libuv), with none of libuv's pool: a wake socket (see
// wake_slots.h) brings tsshmem writers' wakes straight into the loop.
// Writers that wake nobody (pyshmem) and deadlines are caught by one timer
// per loop. A handle whose socket writers cannot reach (another network
// namespace) changes to a thread of its own (futex_relay.h).
//
// The timer ticks every kSilentWriterCheckNs (timing.h) while a wait may have
// a silent writer: on a stream without the extension area (pyshmem created
// it), while a pyshmem process holds the stream's lock file open
// (silent_writers.h), or where that cannot be told (no lock descriptor, or
// leases refused). Otherwise every kIdleCheckNs, or at the nearest deadline.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wake/futex_relay.h"
#include "wake/silent_writers.h"
#include "wake/wait_stats.h"
#include "wake/wake_slots.h"

namespace tsshmem {

class LoopWaits;

// One handle's asynchronous wait, as a state machine:
//
//   kIdle     --Start-->                   kWaiting
//   kWaiting  --new count seen------------> kIdle     callback(count)
//   kWaiting  --deadline passed-----------> kIdle     callback(kTimedOut)
//   kWaiting  --Cancel-------------------> kIdle     callback(kCancelled)
//   kIdle     --Close(settle)-------------> kClosed
//   kWaiting  --Close(settle)-------------> kClosed   callback(kCancelled) if settle
//   kIdle, kWaiting --Detach (loop torn down)--> kDetached   no callback
//   kDetached --Close--------------------> kClosed
//
// The state is kIdle before a callback runs, so the callback may Start the
// next wait. Start is refused (NativeStream throws) unless kIdle. A count
// already there when Start runs settles at once, before Start returns.
enum class AsyncWaitState { kIdle, kWaiting, kDetached, kClosed };

// How writers' wakes reach this handle; chosen on its first wait.
enum class WakePath {
  kNotChosen,
  // A wake socket registered in a wake slot, polled by the loop.
  kSocket,
  // No slot or socket to be had: the loop's timer checks alone.
  kTimerOnly,
  // A writer could not reach the socket (ECONNREFUSED: it is in another
  // network namespace): the slot, now SLEEPING, is slept on by a helper
  // thread in futex(2), which wakes the loop (futex_relay.h).
  kFutexRelay,
};

class AsyncWait {
 public:
  // notify: tsshmem's notify word, null for a stream without the extension
  // area. lockFd: a read-only descriptor of the stream's lock file; -1 if
  // none. stats: the handle's, outliving this.
  // guardEntry: see FutexTarget.
  AsyncWait(Napi::Env env, const double* meta, int guardEntry, const uint32_t* notify, WakeSlots slots, int lockFd,
            WaitStats* stats);
  ~AsyncWait();
  AsyncWait(const AsyncWait&) = delete;
  AsyncWait& operator=(const AsyncWait&) = delete;

  bool Waiting() const { return state_ == AsyncWaitState::kWaiting; }
  // When this wait wants the loop's timer to look at it next.
  int64_t NextCheckNs(int64_t nowNs) const;
  // kIdle -> kWaiting: callback(result) once a count other than lastCount is
  // seen (result = that count), or with Status::kTimedOut at the deadline,
  // kCancelled when cancelled, kCorrupt / kMetadataLost (ObserveCount).
  void Start(Napi::Function callback, double lastCount, int64_t deadlineNs);
  void Cancel();
  // -> kClosed (settling a waiting callback with kCancelled if settle) and
  // frees the slot, socket and loop handle; the metadata may be unmapped
  // afterwards.
  void Close(bool settle);
  // Its lock file was opened: look again now.
  void Recheck();
  // Whether opens is the open counter of this wait's lock file.
  bool CountsOpens(const uint64_t* opens) const { return lock_file_opens_ != nullptr && lock_file_opens_ == opens; }
  // The timer's check: also asks the kernel again whether a pyshmem process
  // still holds the lock file open.
  void Tick();
  // The loop's environment is being torn down: forget the loop.
  void Detach();

 private:
  static constexpr uint64_t kProbeStale = UINT64_MAX;

  // Settles a waiting wait whose count changed (ended as `found` says) or
  // whose deadline passed. true: the same wait goes on; false once it
  // settled (even if its callback started another) or if none was waiting.
  bool Check(WaitEnd found);
  void ChooseWakePath();
  void RelayThroughFutex();
  static void OnRelayWake(void* context, FutexEnd end);
  void Settle(double result, WaitEnd end);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  bool MayHaveSilentWriter();

  Napi::Env env_;
  LoopWaits* loop_waits_;
  const double* meta_;
  int guard_entry_;
  const uint32_t* notify_;
  WakeSlots slots_;
  int lock_fd_;
  WaitStats* stats_;
  // The lock file's open counter (LockFileWatch), null if unwatched.
  const uint64_t* lock_file_opens_ = nullptr;
  // Between ticks, the last probe's answer holds until the lock file is
  // opened again (a new writer of it must open it): it was taken when the
  // file had been opened this many times.
  uint64_t lock_probe_opens_ = kProbeStale;
  LockFileWriters lock_writers_ = LockFileWriters::kUnknown;
  bool may_have_silent_writer_ = true;
  AsyncWaitState state_ = AsyncWaitState::kIdle;
  WakePath wake_path_ = WakePath::kNotChosen;
  // With kSocket: the slot, the socket and the loop's poll of it.
  int slot_ = -1;
  WakeSocket socket_;
  uv_poll_t* poll_ = nullptr;
  // A writer reset the slot from WAITING during the last wait: the socket
  // is out of its reach, so the next Start switches to kFutexRelay.
  bool socket_unreachable_ = false;
  std::unique_ptr<FutexRelay> relay_;
  // While kWaiting:
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
  double last_count_ = 0;
  int64_t deadline_ns_ = 0;
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
  // The open counter of the lock file behind fd; null if it cannot be watched.
  const uint64_t* WatchLockFile(int fd);
  void UnwatchLockFile(const uint64_t* opens);

 private:
  // Starts the timer for the earliest check any pending wait wants, unless it
  // already fires by then. Starting a libuv timer makes no system call.
  void Schedule();
  static void OnTick(uv_timer_t* timer);
  void OnLockFileOpen(const uint64_t* opens);
  // Calls visit on each wait pending now that is still pending when its turn
  // comes (settling one may settle or start others).
  template <typename Visit>
  void VisitPending(Visit visit);

  uv_loop_t* loop_;
  uv_timer_t* timer_;
  int64_t planned_tick_ns_ = 0;
  std::vector<AsyncWait*> pending_;
  std::vector<AsyncWait*> registered_;
  std::unique_ptr<LockFileWatch> lock_file_watch_;
};

}  // namespace tsshmem
