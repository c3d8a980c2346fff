#include "wake/silent_writers.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <string>

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

LockFileWatch::LockFileWatch(uv_loop_t* loop, std::function<void(const uint64_t*)> onOpen)
    : loop_(loop), on_open_(std::move(onOpen)) {}

LockFileWatch::~LockFileWatch() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  // The descriptor is closed once libuv has let go of the handle.
  poll_->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd_));
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* closed) {
    close(static_cast<int>(reinterpret_cast<intptr_t>(closed->data)));
    delete reinterpret_cast<uv_poll_t*>(closed);
  });
}

bool LockFileWatch::Start() {
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
  return true;
}

const uint64_t* LockFileWatch::Watch(int fd) {
  if (fd_ < 0 && !Start()) return nullptr;
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int descriptor = inotify_add_watch(fd_, path.c_str(), IN_OPEN | IN_MASK_ADD);
  if (descriptor < 0) return nullptr;
  Watched& watched = watched_[descriptor];
  ++watched.watchers;
  return &watched.opens;
}

void LockFileWatch::Unwatch(const uint64_t* opens) {
  for (auto entry = watched_.begin(); entry != watched_.end(); ++entry) {
    if (&entry->second.opens != opens) continue;
    if (--entry->second.watchers == 0) {
      // Fails harmlessly if the file is gone (the kernel dropped the watch).
      inotify_rm_watch(fd_, entry->first);
      watched_.erase(entry);
    }
    return;
  }
}

void LockFileWatch::OnReadable(uv_poll_t* handle, int, int) {
  auto* watch = static_cast<LockFileWatch*>(handle->data);
  alignas(inotify_event) char events[4096];
  ssize_t length;
  while ((length = read(watch->fd_, events, sizeof events)) > 0) {
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(events + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        for (auto& entry : watch->watched_) ++entry.second.opens;
        watch->on_open_(nullptr);
        continue;
      }
      auto found = watch->watched_.find(event->wd);
      if ((event->mask & IN_OPEN) == 0 || found == watch->watched_.end()) continue;
      ++found->second.opens;
      watch->on_open_(&found->second.opens);
    }
  }
}

}  // namespace tsshmem
