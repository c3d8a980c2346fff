#include "wake/silent_writers.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "timing.h"

namespace tsshmem {

LockFileWriters ProbeLockFileWriters(int fd) {
  if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
    fcntl(fd, F_SETLEASE, F_UNLCK);
    return LockFileWriters::kNone;
  }
  return errno == EAGAIN ? LockFileWriters::kPresent : LockFileWriters::kUnknown;
}

bool PrepareLockFileForProbes(int fd) { return fcntl(fd, F_SETSIG, SIGURG) == 0; }

void LockFileWritersCache::Use(int fd) {
  fd_ = fd;
  probed_ = false;
}

bool LockFileWritersCache::MayHaveSilentWriter(int64_t nowNs) {
  if (fd_ < 0) return true;
  if (!probed_ || nowNs - probed_at_ns_ >= kIdleCheckNs) {
    writers_ = ProbeLockFileWriters(fd_);
    probed_at_ns_ = nowNs;
    probed_ = true;
  }
  return writers_ != LockFileWriters::kNone;
}

LockDirectoryWatch::LockDirectoryWatch(uv_loop_t* loop, std::function<void()> onOpen)
    : loop_(loop), on_open_(std::move(onOpen)) {}

LockDirectoryWatch::~LockDirectoryWatch() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  // The descriptor is closed once libuv has let go of the handle.
  poll_->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd_));
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* closed) {
    close(static_cast<int>(reinterpret_cast<intptr_t>(closed->data)));
    delete reinterpret_cast<uv_poll_t*>(closed);
  });
}

bool LockDirectoryWatch::Watch(const std::string& directory) {
  if (watched_.count(directory) != 0) return true;
  if (fd_ < 0) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return false;
    auto* poll = new uv_poll_t;
    if (uv_poll_init(loop_, poll, fd) != 0) {
      delete poll;
      close(fd);
      return false;
    }
    fd_ = fd;
    poll_ = poll;
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnReadable);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  if (inotify_add_watch(fd_, directory.c_str(), IN_OPEN | IN_ONLYDIR) < 0) return false;
  watched_.insert(directory);
  return true;
}

void LockDirectoryWatch::OnReadable(uv_poll_t* handle, int, int) {
  auto* watch = static_cast<LockDirectoryWatch*>(handle->data);
  alignas(inotify_event) char events[4096];
  while (read(watch->fd_, events, sizeof events) > 0) {
  }
  watch->on_open_();
}

}  // namespace tsshmem
