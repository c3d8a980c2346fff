#include "owner.h"

#include <sys/stat.h>

#include <cerrno>
#include <csignal>

namespace tsshmem {

uint32_t OwnPidNamespace() {
  // A process keeps its pid namespace for life (unshare and setns change
  // only its children's), so one look suffices.
  static const uint32_t kOwn = [] {
    struct stat info;
    return stat("/proc/self/ns/pid", &info) == 0 ? static_cast<uint32_t>(info.st_ino) : 0u;
  }();
  return kOwn;
}

bool OwnerIsGone(uint32_t pid, uint32_t pidNamespace) {
  if (pid == 0 || pidNamespace == 0 || pidNamespace != OwnPidNamespace()) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace tsshmem
