// Copies to and from a shared mapping that another process may truncate.
// Touching a page past the end of a truncated shm object raises SIGBUS, which
// would kill the whole Node process; these copies turn it into a false return.
// Cost per copy: one sigsetjmp without saving the signal mask (no system call).
#pragma once
#include <cstddef>

namespace tsshmem {

// Installs the SIGBUS handler once per process; other SIGBUS go to the
// handler that was there before.
void InstallSigbusGuard();

// false if a page of src or dst was gone (SIGBUS); the copy is then partial.
bool GuardedCopy(void* dst, const void* src, size_t bytes);
bool GuardedZero(void* dst, size_t bytes);

}  // namespace tsshmem
