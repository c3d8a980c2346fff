// One mmap'ed shared object, registered with the SIGBUS guard
// (guard/mapping_registry.h) for as long as it is mapped. Shared by the
// stream's segments and by the external ArrayBuffer that exposes it to
// JavaScript, so whichever is collected last unmaps it; close() unmaps at
// once after detaching that buffer.
#pragma once
#include <napi.h>

#include <cstddef>
#include <memory>

#include "guard/mapping_registry.h"

namespace tsshmem {

class Mapping {
 public:
  // guardEntry: the stream's registry entry (-1: unguarded); bit: which of
  // its ranges this is.
  static std::shared_ptr<Mapping> Map(Napi::Env env, int fd, size_t length, int guardEntry, LostBit bit);

  Mapping(void* address, size_t length, int guardEntry, LostBit bit);
  ~Mapping() { Unmap(); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  void* address() const { return address_; }
  size_t length() const { return length_; }
  void Unmap();

 private:
  void* address_;
  size_t length_;
  int guard_entry_;
  LostBit bit_;
};

}  // namespace tsshmem
