#include "wake/futex_relay.h"

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

#include "wake/uv_handles.h"

namespace tsshmem {

// What the loop and the thread share; the thread keeps it alive after Stop().
struct FutexRelay::Shared {
  std::mutex mutex;
  std::condition_variable requested;
  uint32_t* notify = nullptr;
  // Null once stopped: from then on the thread touches neither it nor the loop.
  uv_async_t* async = nullptr;
  bool pending = false;
  uint32_t seen = 0;
  int64_t slice_ns = 0;
  FutexEnd last_end = FutexEnd::kTimedOut;
};

FutexRelay::FutexRelay(uv_loop_t* loop, uint32_t* notify, OnWake onWake, void* context) : on_wake_(onWake), context_(context) {
  auto shared = std::make_shared<Shared>();
  shared->notify = notify;
  auto* async = new uv_async_t;
  if (uv_async_init(loop, async, OnAsync) != 0) {
    delete async;
    return;
  }
  async->data = this;
  // A pending wait keeps the loop alive through LoopWaits' timer; this handle never does.
  uv_unref(reinterpret_cast<uv_handle_t*>(async));
  shared->async = async;
  try {
    std::thread(Run, shared).detach();
  } catch (const std::system_error&) {
    CloseAndFree(async);
    return;
  }
  shared_ = std::move(shared);
}

FutexRelay::~FutexRelay() { Stop(); }

void FutexRelay::Sleep(uint32_t seen, int64_t sliceNs) {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->pending = true;
    shared_->seen = seen;
    shared_->slice_ns = sliceNs;
  }
  shared_->requested.notify_one();
}

void FutexRelay::Stop() {
  if (!shared_) return;
  uv_async_t* async;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    async = shared_->async;
    shared_->async = nullptr;
  }
  shared_->requested.notify_one();
  // libuv runs no callback of a handle being closed, so onWake is over.
  CloseAndFree(async);
  shared_.reset();
}

void FutexRelay::Run(std::shared_ptr<Shared> shared) {
  std::unique_lock<std::mutex> lock(shared->mutex);
  for (;;) {
    shared->requested.wait(lock, [&] { return shared->async == nullptr || shared->pending; });
    if (shared->async == nullptr) return;
    shared->pending = false;
    uint32_t seen = shared->seen;
    int64_t sliceNs = shared->slice_ns;
    lock.unlock();
    FutexEnd end = FutexWait(shared->notify, seen, sliceNs);
    lock.lock();
    if (shared->async == nullptr) return;
    shared->last_end = end;
    uv_async_send(shared->async);
  }
}

void FutexRelay::OnAsync(uv_async_t* handle) {
  auto* relay = static_cast<FutexRelay*>(handle->data);
  FutexEnd end;
  {
    std::lock_guard<std::mutex> lock(relay->shared_->mutex);
    end = relay->shared_->last_end;
  }
  relay->on_wake_(relay->context_, end);
}

}  // namespace tsshmem
