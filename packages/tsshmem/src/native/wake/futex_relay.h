// A helper thread that sleeps in futex(2) on a stream's notify word on
// behalf of an event loop, and wakes the loop when each sleep ends.
//
// For a handle whose wake socket writers cannot reach: abstract sockets
// belong to a network namespace, so a writer in another one (a container
// that shares /dev/shm and the lock directory but not the network) gets
// ECONNREFUSED, while a futex on the shared mapping wakes sleepers in any
// namespace. The thread touches no mapped memory itself: the loop loads the
// notify word and hands the value over; FUTEX_WAIT on a mapping that is gone
// fails (EFAULT) instead of faulting.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>

#include "wake/futex.h"

namespace tsshmem {

class FutexRelay {
 public:
  using OnWake = void (*)(void* context, FutexEnd end);

  // notify: the notify word; onWake(context, end) runs on the loop's thread
  // after each requested sleep ends, unless Stop() came first.
  FutexRelay(uv_loop_t* loop, uint32_t* notify, OnWake onWake, void* context);
  ~FutexRelay();
  FutexRelay(const FutexRelay&) = delete;
  FutexRelay& operator=(const FutexRelay&) = delete;

  // false if the thread or the loop's handle could not be made.
  bool Started() const { return shared_ != nullptr; }
  // Loop thread: sleep while the notify word holds seen, at most sliceNs. A
  // request made while a sleep is in progress replaces any other waiting
  // request and runs after it.
  void Sleep(uint32_t seen, int64_t sliceNs);
  // Loop thread: no onWake after this returns. The thread, detached, ends
  // once its sleep in progress does (at the next write or the slice's end).
  // Meanwhile it still runs the addon's code, which is why binding.gyp links
  // it with -z nodelete: Node unloads the addons a worker loaded when that
  // worker's environment ends, but never a NODELETE library.
  void Stop();

 private:
  struct Shared;
  static void OnAsync(uv_async_t* handle);
  static void Run(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  OnWake on_wake_;
  void* context_;
};

}  // namespace tsshmem
