"""The write lock of a stream: flock(2) on pyshmem's lock file
(format.md Part 1, "The lock"), the same file pyshmem and tsshmem lock.

Each handle opens its own descriptor, read-only as tsshmem does (a writer
that wakes readers SHOULD: tsshmem then knows no silent writer is present).
flock belongs to the open file description, so two handles exclude each
other even in one process; the lock is re-entrant per handle."""
import fcntl
import os
import stat
import time

from ._errors import TsshmemError, StreamTimeoutError
from ._layout import DEPTH, OWNER

_BACK_TO_BACK_TRIES = 100
_FIRST_SLEEP = 10e-6
_MAX_SLEEP = 1e-3


def _check_lock_directory(directory):
    try:
        status = os.lstat(directory)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        status = os.lstat(directory)
    if stat.S_ISLNK(status.st_mode) or not stat.S_ISDIR(status.st_mode):
        what = 'a symlink' if stat.S_ISLNK(status.st_mode) else 'not a directory'
        raise TsshmemError('EACCES', f'the lock directory {directory} is {what}: remove it and retry')
    if status.st_mode & 0o002 and not status.st_mode & 0o1000:
        raise TsshmemError('EACCES', f'the lock directory {directory} is writable by everyone without the sticky bit: chmod +t it (or 0755) and retry')


class StreamLock:
    def __init__(self, path, fields, label, mode=None):
        """fields: the live 32 metadata fields (the holder records its pid and depth there).
        mode: the creator's permission bits for the lock file (applied only if we own it)."""
        _check_lock_directory(os.path.dirname(path))
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except OSError as error:
            if error.errno == 40:  # ELOOP
                raise TsshmemError('EACCES', f'the lock file {path} is a symlink: tsshmem does not follow it; remove it and retry') from error
            raise
        if mode is not None and os.fstat(self.fd).st_uid == os.geteuid():
            os.fchmod(self.fd, mode)
        self._fields = fields
        self._label = label
        self.depth = 0

    @property
    def held(self):
        return self.depth > 0

    def acquire(self, timeout):
        """Takes the lock (re-entrant), waiting up to timeout seconds (None: no limit)."""
        if self.depth == 0:
            self._take(timeout)
            self._fields[OWNER] = os.getpid()
        self.depth += 1
        self._fields[DEPTH] = self.depth

    def release(self):
        self.depth -= 1
        if self.depth > 0:
            self._fields[DEPTH] = self.depth
            return
        self._fields[OWNER] = 0
        self._fields[DEPTH] = 0
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _take(self, timeout):
        # format.md Part 1, "Waiting for the lock": back-to-back tries, then sleeps doubling up to 1 ms.
        deadline = None if timeout is None else time.monotonic() + timeout
        sleep = _FIRST_SLEEP
        tries = 0
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            tries += 1
            if tries <= _BACK_TO_BACK_TRIES:
                continue
            if deadline is not None and time.monotonic() >= deadline:
                owner = int(self._fields[OWNER])
                who = f' (held by pid {owner})' if owner else ''
                raise StreamTimeoutError(f'the write lock of {self._label} was not free within {timeout} s{who}: pass a longer timeout, or stop the process that holds it')
            time.sleep(sleep)
            sleep = min(sleep * 2, _MAX_SLEEP)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)  # drops a flock still held
            self.fd = -1
