// Who owns a wake slot or a ring reader entry: a pid, and the pid namespace
// in which that pid names the owner. A process judges an owner dead (and
// takes its slot or entry back) only within its own pid namespace: from
// another one, kill(pid, 0) asks about some other process or none, and a
// live reader's held frame would be overwritten (docs/format.md, "Owners").
#pragma once
#include <cstdint>

namespace tsshmem {

// This process's pid namespace: the low 32 bits of the inode number of
// /proc/self/ns/pid; 0 where that cannot be read.
uint32_t OwnPidNamespace();

// Whether the owner is certainly gone: it was recorded in this process's pid
// namespace (known, not 0) and no process has its pid. An owner of another
// namespace, or of none recorded (0: by an older tsshmem, or a claim that
// has not stored it yet), counts as alive.
bool OwnerIsGone(uint32_t pid, uint32_t pidNamespace);

}  // namespace tsshmem
