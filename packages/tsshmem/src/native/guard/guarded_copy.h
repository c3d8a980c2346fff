// Surviving shared mappings that another process truncates. Touching a page
// past the end of a truncated shm object raises SIGBUS, which would end the
// whole Node process. The handler installed here:
//  - inside a guarded copy (below): marks the mapping lost and makes the copy
//    return false. Cost per copy: one sigsetjmp without saving the signal
//    mask (no system call);
//  - elsewhere in a registered mapping (mapping_registry.h), e.g. JavaScript
//    reading the metadata through a Float64Array, or a live view of the
//    payload: marks it lost and maps zero pages (private, anonymous) over the
//    whole mapping, then returns, so the faulting instruction runs again and
//    reads zeros. Whoever uses the stream next checks its lost word and
//    reports the loss instead of the zeros;
//  - anywhere else: hands the signal to the handler that was there before
//    (by default, the process ends).
#pragma once
#include <cstddef>

namespace tsshmem {

// Installs the SIGBUS handler once per process.
void InstallSigbusGuard();

// false if a page of src or dst was gone (SIGBUS); the copy is then partial.
bool GuardedCopy(void* dst, const void* src, size_t bytes);
bool GuardedZero(void* dst, size_t bytes);

}  // namespace tsshmem
