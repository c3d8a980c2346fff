"""System calls the standard library lacks: futex(2) through ctypes, and
process liveness."""
import ctypes
import errno
import os
import platform

# futex(2) is called through syscall(2): glibc has no wrapper.
_SYS_FUTEX = {'x86_64': 202, 'amd64': 202, 'aarch64': 98, 'arm64': 98, 'riscv64': 98, 'ppc64le': 221}
_FUTEX_WAIT = 0
_FUTEX_WAKE = 1
INT_MAX = 0x7FFFFFFF


class _Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


class Futex:
    """Shared (not FUTEX_PRIVATE_FLAG) futex waits and wakes on words of MAP_SHARED objects."""

    def __init__(self):
        number = _SYS_FUTEX.get(platform.machine().lower())
        if number is None:
            raise OSError(f'no futex(2) system call number known for {platform.machine()}')
        self._number = number
        # CDLL releases the GIL around each call: a futex wait sleeps without it.
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall
        self._syscall.restype = ctypes.c_long

    def wait(self, address, expected, seconds):
        """Sleeps while the word at address holds expected, up to seconds; returns early on a wake, EINTR or EAGAIN."""
        nanoseconds = max(0, int(seconds * 1e9))
        timeout = _Timespec(nanoseconds // 1_000_000_000, nanoseconds % 1_000_000_000)
        long = ctypes.c_long
        self._syscall(long(self._number), ctypes.c_void_p(address), long(_FUTEX_WAIT), long(expected & 0xFFFFFFFF),
                      ctypes.byref(timeout), long(0), long(0))

    def wake_all(self, address):
        """Wakes every waiter on the word at address; returns how many were woken."""
        long = ctypes.c_long
        woken = self._syscall(long(self._number), ctypes.c_void_p(address), long(_FUTEX_WAKE), long(INT_MAX), long(0), long(0), long(0))
        return max(0, woken)


def _own_pid_namespace():
    try:
        return os.stat('/proc/self/ns/pid').st_ino & 0xFFFFFFFF
    except OSError:
        return 0


# format.md, "Owners": the low 32 bits of the inode of /proc/self/ns/pid (0: unknown).
# A process keeps its pid namespace for life.
OWN_PID_NAMESPACE = _own_pid_namespace()


def owner_is_gone(pid, pid_namespace):
    """True only if the owner was recorded in this pid namespace and no process has its pid (kill(pid, 0):
    ESRCH). An owner of another namespace, or of none recorded (0), counts as alive: from here its pid
    names some other process, or none."""
    if pid == 0 or pid_namespace == 0 or pid_namespace != OWN_PID_NAMESPACE:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError as error:
        return error.errno == errno.ESRCH
    return False
