#include "mapping.h"

#include <cerrno>
#include <sys/mman.h>

#include "errors.h"

namespace tsshmem {

std::shared_ptr<Mapping> Mapping::Map(Napi::Env env, int fd, size_t length, int guardEntry, LostBit bit) {
  void* address = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) ThrowSystemError(env, errno, "mmap");
  return std::make_shared<Mapping>(address, length, guardEntry, bit);
}

Mapping::Mapping(void* address, size_t length, int guardEntry, LostBit bit)
    : address_(address), length_(length), guard_entry_(guardEntry), bit_(bit) {
  GuardRange(guard_entry_, bit_, address_, length_);
}

void Mapping::Unmap() {
  if (address_ == nullptr) return;
  // Unregistered first: once unmapped, the range may be mapped to anything.
  DropGuardedRange(guard_entry_, bit_);
  munmap(address_, length_);
  address_ = nullptr;
}

}  // namespace tsshmem
