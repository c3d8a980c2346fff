#include "wake/sync_wait.h"

#include <algorithm>

#include "clock.h"
#include "guard/mapping_registry.h"
#include "protocol/frame_protocol.h"
#include "protocol/shared_fields.h"
#include "timing.h"
#include "wake/futex.h"

namespace tsshmem {

namespace {

double SpinForNewCount(const FutexTarget& target, double lastCount, int64_t spinNs) {
  int64_t until = MonotonicNs() + spinNs;
  for (;;) {
    double count = ObserveCount(target.meta, target.guard_entry);
    if (count != lastCount) return count;
    for (int i = 0; i < kWaitPausesPerCheck; ++i) CpuRelax();
    if (MonotonicNs() >= until) return lastCount;
  }
}

// The count seen before sleeping (no sleep if it is new), and how the sleep
// ended.
struct Sleep {
  double count;
  WaitEnd end;
};

// One sleep of at most sliceNs.
Sleep SleepOnce(const FutexTarget& target, double lastCount, int64_t sliceNs) {
  if (target.notify == nullptr) {
    double count = ObserveCount(target.meta, target.guard_entry);
    if (count == lastCount) SleepNs(sliceNs);
    return {count, WaitEnd::kRechecked};
  }
  // Register before reading the count: a writer bumps notify and then reads
  // the slots (both sequentially consistent), so either it sees us and wakes
  // us, or we see its count or its notify value and do not sleep.
  if (target.slot >= 0) target.slots.EnterSleeping(target.slot);
  uint32_t seen = __atomic_load_n(target.notify, __ATOMIC_SEQ_CST);
  double count = ObserveCount(target.meta, target.guard_entry);
  WaitEnd end = WaitEnd::kRechecked;
  if (count == lastCount) {
    // The word changing under us is the writer's bump that precedes its wake.
    end = FutexWait(target.notify, seen, sliceNs) == FutexEnd::kTimedOut ? WaitEnd::kRechecked : WaitEnd::kWoken;
  }
  if (target.slot >= 0) target.slots.Leave(target.slot);
  return {count, end};
}

// How long one sleep may last before the count is looked at again.
int64_t SleepSliceNs(const FutexTarget& target, int64_t nowNs) {
  bool silentWriter = target.notify == nullptr || target.writers == nullptr || target.writers->MayHaveSilentWriter(nowNs);
  return silentWriter ? kSilentWriterCheckNs : kIdleCheckNs;
}

}  // namespace

double ObserveCount(const double* meta, int guardEntry) {
  double count = LoadCount(meta);
  return (LostBits(guardEntry) & kLostMetadata) != 0 ? AsResult(Status::kMetadataLost) : count;
}

WaitOutcome WaitForNewCount(const FutexTarget& target, double lastCount, int64_t deadlineNs, int64_t spinNs) {
  if (spinNs > 0) {
    double count = SpinForNewCount(target, lastCount, spinNs);
    if (count != lastCount) return {count, WaitEnd::kImmediate};
  }
  // How the last sleep ended; before any sleep, a new count was already there.
  WaitEnd lastSleep = WaitEnd::kImmediate;
  for (;;) {
    int64_t now = MonotonicNs();
    if (now >= deadlineNs) {
      double count = ObserveCount(target.meta, target.guard_entry);
      if (count != lastCount) return {count, lastSleep};
      return {AsResult(Status::kTimedOut), WaitEnd::kTimedOut};
    }
    Sleep sleep = SleepOnce(target, lastCount, std::min(SleepSliceNs(target, now), deadlineNs - now));
    if (sleep.count != lastCount) return {sleep.count, lastSleep};
    lastSleep = sleep.end;
    double count = ObserveCount(target.meta, target.guard_entry);
    if (count != lastCount) return {count, lastSleep};
  }
}

void NotifyWaiters(uint32_t* notify, const WakeSlots& slots) {
  if (notify == nullptr) return;
  __atomic_fetch_add(notify, 1, __ATOMIC_SEQ_CST);
  slots.WakeAll(notify);
}

}  // namespace tsshmem
