#include "guard/guarded_copy.h"

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard/mapping_registry.h"

namespace tsshmem {

namespace {

thread_local sigjmp_buf* t_recovery = nullptr;
struct sigaction g_previous_handler;

void RestoreDefaultAndRaise(int signal) {
  struct sigaction fallback = {};
  fallback.sa_handler = SIG_DFL;
  sigaction(signal, &fallback, nullptr);
  raise(signal);
}

// mmap through syscall(2): the raw system call, nothing that is not
// async-signal-safe. MAP_FIXED replaces the lost pages atomically.
bool MapZerosOver(void* start, size_t length) {
  long mapped = syscall(SYS_mmap, start, length, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return mapped == reinterpret_cast<long>(start);
}

void OnSigbus(int signal, siginfo_t* info, void* context) {
  void* start = nullptr;
  size_t length = 0;
  bool registered = MarkLost(info->si_addr, &start, &length);
  if (t_recovery != nullptr) siglongjmp(*t_recovery, 1);
  int savedErrno = errno;
  bool replaced = registered && MapZerosOver(start, length);
  errno = savedErrno;
  if (replaced) return;
  if (g_previous_handler.sa_flags & SA_SIGINFO) {
    g_previous_handler.sa_sigaction(signal, info, context);
  } else if (g_previous_handler.sa_handler == SIG_DFL) {
    RestoreDefaultAndRaise(signal);
  } else if (g_previous_handler.sa_handler != SIG_IGN) {
    g_previous_handler.sa_handler(signal);
  }
}

// The copy runs between sigsetjmp and clearing t_recovery; SA_NODEFER keeps
// SIGBUS unblocked after siglongjmp, so the mask need not be saved.
template <typename Operation>
bool Guarded(Operation operation) {
  sigjmp_buf recovery;
  if (sigsetjmp(recovery, 0) != 0) {
    t_recovery = nullptr;
    return false;
  }
  t_recovery = &recovery;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  operation();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_recovery = nullptr;
  return true;
}

}  // namespace

void InstallSigbusGuard() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction handler = {};
    handler.sa_sigaction = OnSigbus;
    handler.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&handler.sa_mask);
    sigaction(SIGBUS, &handler, &g_previous_handler);
  });
}

bool GuardedCopy(void* dst, const void* src, size_t bytes) {
  return Guarded([=] { std::memcpy(dst, src, bytes); });
}

bool GuardedZero(void* dst, size_t bytes) {
  return Guarded([=] { std::memset(dst, 0, bytes); });
}

}  // namespace tsshmem
