#include "guarded_copy.h"

#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <mutex>

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

void OnSigbus(int signal, siginfo_t* info, void* context) {
  if (t_recovery != nullptr) siglongjmp(*t_recovery, 1);
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
