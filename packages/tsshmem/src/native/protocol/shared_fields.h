// Atomic access to the float64 metadata fields and the 32-bit words of the
// extension area, which other processes read and write concurrently.
// pyshmem stores these fields with plain 8-byte stores; aligned 8-byte
// atomic loads and stores are the same instructions, so both sides agree.
#pragma once
#include <cstdint>
#include <cstring>

namespace tsshmem {

// Field indices of the pyshmem v2 metadata block (docs/format.md); the TypeScript
// format module owns the full table, native code needs only these.
enum MetaField : int {
  kCount = 1,
  kWriteTime = 8,
  kWriteSequence = 9,
  kLockOwnerPid = 10,
  kLockDepth = 11,
};

inline double LoadField(const double* meta, int field, int order) {
  uint64_t bits = __atomic_load_n(reinterpret_cast<const uint64_t*>(meta + field), order);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline void StoreField(double* meta, int field, double value, int order) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  __atomic_store_n(reinterpret_cast<uint64_t*>(meta + field), bits, order);
}

// Counts and sequences are integers stored as float64; past 2^53 an
// increment is lost. Anything else is a corrupt (or hostile) block.
inline bool IsValidCounter(double value) { return value >= 0 && value < 9007199254740992.0 && value == static_cast<double>(static_cast<int64_t>(value)); }

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace tsshmem
