"""Atomic operations on words of shared memory, for a process that has only
Python, NumPy and the standard library (docs/python.md, "Atomics").

The protocol (docs/format.md, Parts 2 and 3) needs three things that plain
Python and NumPy cannot do: compare-and-swap of a 32-bit word, fetch-add of a
32-bit word, and a full memory barrier (a sequentially consistent store
followed by a load). Two backends provide them, tried in this order:

- ``inline`` (x86-64 only): three machine-code functions of a few bytes
  (``lock cmpxchg``, ``lock xadd``, ``mfence``) placed in a page of their own
  that is made executable and read-only, and called through ctypes. Needs
  nothing installed; a kernel that forbids executable anonymous memory
  (SELinux deny_execmem, PaX MPROTECT) refuses it.
- ``libatomic``: GCC's runtime library libatomic.so.1 through ctypes
  (``__atomic_compare_exchange_4``, ``__atomic_fetch_add_4``,
  ``atomic_thread_fence``), on any CPU; Debian and Ubuntu ship it as
  libatomic1 (installed with gcc).

Plain aligned loads and stores (NumPy element access) are single-copy atomic
for 4- and 8-byte words. On x86-64 they are also acquire loads and release
stores (TSO), so ``acquire()`` and ``release()`` are no-ops there; on other
CPUs they are full barriers. The environment variable TSSHMEM_ATOMICS
(``inline`` or ``libatomic``) forces one backend.
"""
import ctypes
import mmap
import os
import platform

from ._errors import AtomicsUnavailableError

_MACHINE = platform.machine().lower()
_X86_64 = _MACHINE in ('x86_64', 'amd64')
# x86-TSO: a plain load is an acquire load and a plain store a release store.
ORDERED = _X86_64

# System V AMD64 ABI: arguments in rdi, esi, edx; result in eax.
_X86_CODE = {
    # mov eax, esi; lock cmpxchg [rdi], edx; ret -> the old value
    'cas32': bytes.fromhex('89f0f00fb117c3'),
    # mov eax, esi; lock xadd [rdi], eax; ret -> the old value
    'fetch_add32': bytes.fromhex('89f0f00fc107c3'),
    # mfence; ret
    'fence': bytes.fromhex('0faef0c3'),
}
_SEQ_CST = 5  # __ATOMIC_SEQ_CST


class _Inline:
    name = 'inline'

    def __init__(self):
        if not _X86_64:
            raise OSError(f'inline atomics exist for x86-64 only, not {_MACHINE}')
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        page = libc.mmap(None, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if page in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), 'mmap of a code page failed')
        offsets = {}
        at = 0
        for function, code in _X86_CODE.items():
            ctypes.memmove(page + at, code, len(code))
            offsets[function] = at
            at += 16
        # Writable, then executable: never both (W^X).
        if libc.mprotect(page, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f'mprotect(PROT_EXEC) refused: {os.strerror(errno)}')
        u32, ptr = ctypes.c_uint32, ctypes.c_void_p
        self._cas = ctypes.CFUNCTYPE(u32, ptr, u32, u32)(page + offsets['cas32'])
        self._fetch_add = ctypes.CFUNCTYPE(u32, ptr, u32)(page + offsets['fetch_add32'])
        self.fence = ctypes.CFUNCTYPE(None)(page + offsets['fence'])

    def cas32(self, address, expected, desired):
        return self._cas(address, expected, desired) == expected

    def fetch_add32(self, address, delta):
        return self._fetch_add(address, delta & 0xFFFFFFFF)


class _LibAtomic:
    name = 'libatomic'

    def __init__(self):
        lib = ctypes.CDLL('libatomic.so.1')
        u32, ptr, order = ctypes.c_uint32, ctypes.c_void_p, ctypes.c_int
        self._cas = getattr(lib, '__atomic_compare_exchange_4')
        self._cas.argtypes = [ptr, ctypes.POINTER(u32), u32, order, order]
        self._cas.restype = ctypes.c_bool
        self._fetch_add = getattr(lib, '__atomic_fetch_add_4')
        self._fetch_add.argtypes = [ptr, u32, order]
        self._fetch_add.restype = u32
        self._fence = lib.atomic_thread_fence
        self._fence.argtypes = [order]
        self._fence.restype = None

    def cas32(self, address, expected, desired):
        return self._cas(address, ctypes.byref(ctypes.c_uint32(expected)), desired, _SEQ_CST, _SEQ_CST)

    def fetch_add32(self, address, delta):
        return self._fetch_add(address, delta & 0xFFFFFFFF, _SEQ_CST)

    def fence(self):
        self._fence(_SEQ_CST)


_BACKENDS = {'inline': _Inline, 'libatomic': _LibAtomic}
_loaded = None


def load():
    """The first backend that works here (or the one TSSHMEM_ATOMICS names); AtomicsUnavailableError if none."""
    global _loaded
    if _loaded is not None:
        return _loaded
    forced = os.environ.get('TSSHMEM_ATOMICS', '')
    if forced and forced not in _BACKENDS:
        raise AtomicsUnavailableError(f'TSSHMEM_ATOMICS={forced!r} names no backend: use inline or libatomic, or unset it')
    problems = []
    for name in [forced] if forced else list(_BACKENDS):
        try:
            backend = _BACKENDS[name]()
            _self_test(backend)
        except (OSError, AttributeError) as error:
            problems.append(f'{name}: {error}')
            continue
        _loaded = backend
        return backend
    raise AtomicsUnavailableError(
        'tsshmem needs atomic compare-and-swap and fetch-add on shared memory, and this process has neither backend ('
        + '; '.join(problems)
        + '). Install GCC\'s libatomic (Debian/Ubuntu: apt-get install libatomic1; Fedora: dnf install libatomic), '
        'or on x86-64 allow executable memory for this process.'
    )


def _self_test(backend):
    word = ctypes.c_uint32(7)
    address = ctypes.addressof(word)
    if not backend.cas32(address, 7, 9) or backend.cas32(address, 7, 11) or word.value != 9:
        raise OSError('compare-and-swap self-test failed')
    if backend.fetch_add32(address, -1) != 9 or word.value != 8:
        raise OSError('fetch-add self-test failed')
    backend.fence()


def acquire(backend):
    """A barrier after an acquire load where plain loads are not acquire loads."""
    if not ORDERED:
        backend.fence()


release = acquire
