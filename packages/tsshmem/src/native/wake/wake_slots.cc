#include "wake/wake_slots.h"

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "owner.h"
#include "wake/futex.h"

namespace tsshmem {

namespace {

enum SlotField : int { kPid = 0, kToken = 1, kState = 2, kPidNamespace = 3 };
enum SlotState : uint32_t { kIdle = 0, kWaiting = 1, kSleeping = 2 };

socklen_t WakeAddress(uint32_t pid, uint32_t token, sockaddr_un* address) {
  std::memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  // sun_path[0] == 0: the abstract namespace.
  int length = std::snprintf(address->sun_path + 1, sizeof address->sun_path - 1, "tsshmem-wake-%u-%u", pid, token);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + length);
}

int SendSocket() {
  static int fd = -1;
  static std::once_flag opened;
  std::call_once(opened, [] { fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); });
  return fd;
}

bool CompareExchange(uint32_t* word, uint32_t expected, uint32_t desired) {
  return __atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

}  // namespace

int WakeSlots::Claim(uint32_t pid, uint32_t token) const {
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t slot = 0; slot < slot_count_; ++slot) {
      uint32_t* owner = Field(slot, kPid);
      uint32_t current = __atomic_load_n(owner, __ATOMIC_SEQ_CST);
      // First pass: free slots; second pass: slots of processes that died.
      bool takeable = pass == 0 ? current == 0 : OwnerIsGone(current, __atomic_load_n(Field(slot, kPidNamespace), __ATOMIC_SEQ_CST));
      if (!takeable || !CompareExchange(owner, current, pid)) continue;
      // Until this store the word holds 0 (a free slot's) or the dead owner's,
      // which was ours (the second pass takes no other), so nobody judges
      // the new owner dead meanwhile.
      __atomic_store_n(Field(slot, kPidNamespace), OwnPidNamespace(), __ATOMIC_SEQ_CST);
      Leave(static_cast<int>(slot));
      __atomic_store_n(Field(slot, kToken), token, __ATOMIC_SEQ_CST);
      return static_cast<int>(slot);
    }
  }
  return -1;
}

void WakeSlots::Release(int slot) const {
  Leave(slot);
  __atomic_store_n(Field(slot, kPidNamespace), 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(Field(slot, kPid), 0, __ATOMIC_SEQ_CST);
}

void WakeSlots::SetToken(int slot, uint32_t token) const { __atomic_store_n(Field(slot, kToken), token, __ATOMIC_SEQ_CST); }

void WakeSlots::EnterWaiting(int slot) const { Enter(slot, kWaiting); }

void WakeSlots::EnterSleeping(int slot) const { Enter(slot, kSleeping); }

void WakeSlots::Leave(int slot) const {
  if (!Leave(slot, kWaiting)) Leave(slot, kSleeping);
}

bool WakeSlots::LeaveWaiting(int slot) const { return Leave(slot, kWaiting); }

void WakeSlots::Enter(int slot, uint32_t state) const {
  if (CompareExchange(Field(slot, kState), kIdle, state)) __atomic_fetch_add(waiting_, 1, __ATOMIC_SEQ_CST);
}

bool WakeSlots::Leave(int slot, uint32_t state) const {
  if (!CompareExchange(Field(slot, kState), state, kIdle)) return false;
  __atomic_fetch_sub(waiting_, 1, __ATOMIC_SEQ_CST);
  return true;
}

void WakeSlots::WakeAll(uint32_t* notify) const {
  if (table_ == nullptr || __atomic_load_n(waiting_, __ATOMIC_SEQ_CST) == 0) return;
  bool sleepers = false;
  for (uint32_t slot = 0; slot < slot_count_; ++slot) {
    uint32_t state = __atomic_load_n(Field(slot, kState), __ATOMIC_SEQ_CST);
    if (state == kWaiting) Send(static_cast<int>(slot));
    sleepers = sleepers || state == kSleeping;
  }
  // A sleeper is registered before it checks the count and sleeps, so a wake
  // that finds nobody asleep is normal now and then; only then is it worth
  // asking whether the sleepers are still alive.
  if (sleepers && FutexWakeAll(notify) == 0) ReapDeadSleepers();
}

void WakeSlots::Send(int slot) const {
  static const char kWake = 1;
  sockaddr_un address;
  uint32_t pid = __atomic_load_n(Field(slot, kPid), __ATOMIC_SEQ_CST);
  uint32_t token = __atomic_load_n(Field(slot, kToken), __ATOMIC_SEQ_CST);
  socklen_t length = WakeAddress(pid, token, &address);
  if (sendto(SendSocket(), &kWake, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address), length) < 0 &&
      errno == ECONNREFUSED && __atomic_load_n(Field(slot, kPid), __ATOMIC_SEQ_CST) == pid &&
      __atomic_load_n(Field(slot, kToken), __ATOMIC_SEQ_CST) == token) {
    // Nobody is bound there: the waiter died while waiting, or its socket is
    // in another network namespace (it then sleeps in futex(2) instead,
    // futex_relay.h). Unless the slot changed hands meanwhile: then its new
    // owner stays WAITING.
    Leave(slot, kWaiting);
  }
}

void WakeSlots::ReapDeadSleepers() const {
  for (uint32_t slot = 0; slot < slot_count_; ++slot) {
    if (__atomic_load_n(Field(slot, kState), __ATOMIC_SEQ_CST) == kSleeping &&
        OwnerIsGone(__atomic_load_n(Field(slot, kPid), __ATOMIC_SEQ_CST),
                    __atomic_load_n(Field(slot, kPidNamespace), __ATOMIC_SEQ_CST))) {
      Leave(static_cast<int>(slot), kSleeping);
    }
  }
}

WakeSocket::~WakeSocket() { Close(); }

void WakeSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool WakeSocket::Open(uint32_t pid) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return false;
  std::random_device entropy;
  for (int attempt = 0; attempt < 8; ++attempt) {
    token_ = entropy();
    sockaddr_un address;
    socklen_t length = WakeAddress(pid, token_, &address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0) return true;
    if (errno != EADDRINUSE) break;
  }
  Close();
  return false;
}

void WakeSocket::ReceiveOne() const {
  char byte;
  recv(fd_, &byte, 1, MSG_DONTWAIT);
}

bool WakeSocket::HasPendingWake() const {
  char byte;
  return fd_ >= 0 && recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK) == 1;
}

}  // namespace tsshmem
