#include "guard/mapping_registry.h"

#include <atomic>
#include <initializer_list>

namespace tsshmem {

namespace {

struct Range {
  std::atomic<uintptr_t> start{0};
  std::atomic<size_t> length{0};
};

struct Entry {
  // Which ranges are registered (LostBit bits); 0: the entry is free.
  // kClaimed marks an entry taken but with no range yet.
  std::atomic<int32_t> ranges{0};
  Range metadata;
  Range data;
};

constexpr int32_t kClaimed = 4;

Entry g_entries[kMaxGuardedStreams];
std::atomic<int32_t> g_lost[kMaxGuardedStreams];
static_assert(sizeof(std::atomic<int32_t>) == sizeof(int32_t), "lost words are read as an Int32Array");

Range& RangeOf(Entry& entry, LostBit bit) { return bit == kLostMetadata ? entry.metadata : entry.data; }

}  // namespace

int ClaimGuardEntry() {
  for (int index = 0; index < kMaxGuardedStreams; ++index) {
    int32_t expected = 0;
    if (g_entries[index].ranges.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
      g_lost[index].store(0, std::memory_order_relaxed);
      return index;
    }
  }
  return -1;
}

void GuardRange(int entry, LostBit bit, void* start, size_t length) {
  if (entry < 0) return;
  Range& range = RangeOf(g_entries[entry], bit);
  range.start.store(reinterpret_cast<uintptr_t>(start), std::memory_order_relaxed);
  range.length.store(length, std::memory_order_relaxed);
  // Release: the range is complete before a lookup sees its bit; pairs with
  // the acquire load in MarkLost.
  g_entries[entry].ranges.fetch_or(bit, std::memory_order_release);
}

void DropGuardedRange(int entry, LostBit bit) {
  if (entry < 0) return;
  int32_t left = g_entries[entry].ranges.fetch_and(~bit, std::memory_order_acq_rel) & ~bit;
  // The last range gone (only kClaimed left): the entry is free for another stream.
  if (left == kClaimed) g_entries[entry].ranges.store(0, std::memory_order_release);
}

int32_t LostBits(int entry) { return entry < 0 ? 0 : g_lost[entry].load(std::memory_order_relaxed); }

int32_t* LostWords() { return reinterpret_cast<int32_t*>(g_lost); }

bool MarkLost(const void* address, void** start, size_t* length) {
  auto at = reinterpret_cast<uintptr_t>(address);
  for (int index = 0; index < kMaxGuardedStreams; ++index) {
    int32_t ranges = g_entries[index].ranges.load(std::memory_order_acquire);
    for (LostBit bit : {kLostMetadata, kLostData}) {
      if ((ranges & bit) == 0) continue;
      Range& range = RangeOf(g_entries[index], bit);
      uintptr_t first = range.start.load(std::memory_order_relaxed);
      size_t bytes = range.length.load(std::memory_order_relaxed);
      if (at < first || at - first >= bytes) continue;
      g_lost[index].fetch_or(bit, std::memory_order_relaxed);
      *start = reinterpret_cast<void*>(first);
      *length = bytes;
      return true;
    }
  }
  return false;
}

}  // namespace tsshmem
