"""Ring streams from Python: create(), open(), unlink() and the RingStream
handle (docs/python.md). The bytes follow docs/format.md exactly as the
TypeScript library does, so Python and Node processes share a stream."""
import math
import mmap
import os
import threading
import time
import weakref

import numpy as np

from . import _atomics
from ._errors import InvalidStreamError, StreamExistsError, StreamNotFoundError, StreamTimeoutError, TsshmemError
from ._layout import (COUNT, DTYPES, EXTENDED_METADATA_BYTES, EXTENSION_MAGIC, FORMAT_VERSION, MAGIC_OFFSET, MAX_HISTORY,
                      MAX_NDIM, MIN_HISTORY, RING_CONTROL_OFFSET, RING_MAGIC, RING_ONLY_VERSION, VERSION, WRITE_TIME, C_SLOT_HEADERS,
                      Geometry, Location, code_of_dtype, decode_header, decode_ring_control, encode_new_stream)
from ._lock import StreamLock
from ._ring import BLOCKED, CORRUPT, FRAME, NOTHING, Ring
from ._system import Futex
from ._wake import WakeSlots

DEFAULT_WRITE_TIMEOUT = 10.0
_READ_PAYLOAD_TIMEOUT = 5.0
_OPEN_SETTLE = 1.0
_OPEN_RETRY = 0.002

# (lock path, thread id) of loans outstanding in this process: a second handle of the same thread
# would otherwise wait on the flock its own loan holds.
_loans_in_progress = set()


def create(name, shape, dtype='float32', *, history, overflow='overwrite', pyshmem_frame=True, mode=0o600):
    """Creates a ring stream of `history` frame slots (2 to 65536) of arrays of `shape` and `dtype`.

    overflow: 'overwrite' (writers never wait; a reader more than `history` frames behind loses the
    oldest, counted in `missed`) or 'block' (writers wait until every registered reader has room).
    pyshmem_frame: True (default) keeps the newest frame in the pyshmem payload too, so pyshmem reads it.
    Fails with StreamExistsError if the name is taken."""
    _check_name(name)
    shape = _check_shape(shape)
    code = code_of_dtype(_check_dtype(dtype))
    if isinstance(history, bool) or not isinstance(history, int) or not MIN_HISTORY <= history <= MAX_HISTORY:
        raise TsshmemError('ERR_INVALID_ARG_VALUE', f'history must be an integer from {MIN_HISTORY} to {MAX_HISTORY} frame slots, received {history!r}')
    if overflow not in ('overwrite', 'block'):
        raise TsshmemError('ERR_INVALID_ARG_VALUE', f"overflow must be 'overwrite' or 'block', received {overflow!r}")
    if not isinstance(pyshmem_frame, bool):
        raise TsshmemError('ERR_INVALID_ARG_TYPE', f'pyshmem_frame must be True or False, received {pyshmem_frame!r}')
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise TsshmemError('ERR_INVALID_ARG_VALUE', f'mode must be permission bits from 0 to 0o777, received {mode!r}')
    atomics = _atomics.load()
    dtype = np.dtype(DTYPES[code])
    frame_bytes = math.prod(shape) * dtype.itemsize
    geometry = Geometry.plan(frame_bytes, history, overflow, pyshmem_frame)
    location = Location(name)
    meta_fd = _create_object(name, location.meta, geometry.meta_bytes, mode)
    data_fd = -1
    try:
        data_fd = _create_object(name, location.data, geometry.data_bytes, mode)
        meta = mmap.mmap(meta_fd, geometry.meta_bytes)
        data = mmap.mmap(data_fd, geometry.data_bytes)
        fields = encode_new_stream(meta, name, shape, code, frame_bytes, geometry, os.getpid())
        atomics.fence()  # every field before the version: openers that see it see a complete block
        fields[VERSION] = FORMAT_VERSION if pyshmem_frame else RING_ONLY_VERSION
        del fields
    except BaseException:
        _remove(location.meta)
        if data_fd >= 0:
            _remove(location.data)
        os.close(meta_fd)
        raise
    finally:
        if data_fd >= 0:
            os.close(data_fd)
    try:
        # The handle keeps meta_fd: its reader entry's liveness lock lives on it.
        return RingStream(name, location, meta, data, geometry, atomics, meta_fd, lock_mode=mode)
    except BaseException:
        os.close(meta_fd)
        unlink(name)
        raise


def open(name):  # noqa: A001 - the library's verb, as tsshmem.open in Node
    """Opens an existing ring stream (created by Python or Node). A plain pyshmem stream is refused."""
    _check_name(name)
    atomics = _atomics.load()
    location = Location(name)
    deadline = time.monotonic() + _OPEN_SETTLE
    while True:
        attempt = _try_open(name, location)
        if not isinstance(attempt, Exception):
            meta, data, geometry, meta_fd = attempt
            try:
                return RingStream(name, location, meta, data, geometry, atomics, meta_fd)
            except BaseException:
                os.close(meta_fd)
                raise
        if time.monotonic() >= deadline:
            raise attempt
        time.sleep(_OPEN_RETRY)


def unlink(name):
    """Removes a stream's objects and lock file (each may already be gone); True if any object existed."""
    _check_name(name)
    location = Location(name)
    removed = False
    for path in (location.data, location.meta, location.gpu):
        removed = _remove(path) or removed
    try:
        os.unlink(location.lock)
    except FileNotFoundError:
        pass
    return removed


class Loan:
    """A slot loaned by RingStream.loan(): fill `array` in place, then publish(). Leaving a `with`
    block unpublished gives the slot back with nothing published."""

    def __init__(self, array, settle):
        self.array = array
        self._settle = settle

    @property
    def settled(self):
        return self._settle is None

    def publish(self):
        """Publishes the frame to every reader, then gives the slot and the write lock back."""
        self._finish(True)

    def abandon(self):
        """Gives the slot back without publishing (a no-op once published)."""
        self._finish(False)

    def _finish(self, publish):
        settle, self._settle = self._settle, None
        self.array = None
        if settle is not None:
            settle(publish)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abandon()


class View:
    """A frame held by RingStream.next_view() without a copy: `array` (read-only) is the ring slot itself,
    which no writer reuses until release(). After release() the slot's bytes may change at any moment:
    copy what you keep."""

    def __init__(self, array, count, write_time, release):
        self.array = array
        self.count = count
        self.write_time = write_time
        self._release = release

    @property
    def released(self):
        return self._release is None

    def release(self):
        release, self._release = self._release, None
        self.array = None
        if release is not None:
            release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class RingStream:
    """A handle on a ring stream. Not thread-safe: use one handle per thread."""

    def __init__(self, name, location, meta, data, geometry, atomics, meta_fd, lock_mode=None):
        """meta_fd: a descriptor of the metadata object (O_CLOEXEC) that the handle owns from here on and
        closes in close(): its reader entry's liveness lock (format.md Part 3) is an OFD lock on it."""
        self._name = name
        self._location = location
        self._meta_map = meta
        self._data_map = data
        self._geometry = geometry
        self._fields = np.ndarray((32,), '<f8', meta, 0)
        header, _ = decode_header(self._fields)
        self._shape = header['shape']
        self._dtype = header['dtype']
        self._label = f'ring stream {name!r}'
        self._futex = Futex()
        self._wake = WakeSlots(meta, atomics, self._futex)
        self._ring = Ring(meta, data, geometry, self._fields, self._wake, atomics, self._futex, meta_fd)
        self._lock = StreamLock(location.lock, self._fields, self._label, lock_mode)
        self._cursor = self._ring.load_head()
        self._last_count = float(self._fields[COUNT])
        self._last_write_time = 0.0
        self._missed = 0
        self._total_missed = 0
        self._entry = -1
        self._registered = False
        self._wake_slot = -1
        self._wake_claimed = False
        self._views = [None] * 4
        self._loan = None
        self._closed = False
        # Last, once nothing here can raise (until then the caller closes meta_fd): closed by close(),
        # or when the handle is collected unclosed, its entry's lock going with it.
        self._close_meta_fd = weakref.finalize(self, os.close, meta_fd)

    # --- properties ---

    @property
    def name(self):
        return self._name

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def history(self):
        return self._geometry.slots

    @property
    def overflow(self):
        return self._geometry.overflow

    @property
    def pyshmem_frame(self):
        return self._geometry.pyshmem_frame

    @property
    def count(self):
        """Completed writes to the stream so far (live)."""
        self._check_open()
        return int(self._fields[COUNT])

    @property
    def write_time(self):
        """UNIX time in seconds of the newest write to the stream (live; 0 before any)."""
        self._check_open()
        return float(self._fields[WRITE_TIME])

    @property
    def last_count(self):
        """The stream's count of the last frame this handle returned (its sequence number; 1 = first write)."""
        return int(self._last_count)

    @property
    def last_write_time(self):
        """UNIX time in seconds of the write of the last frame this handle returned."""
        return self._last_write_time

    @property
    def missed(self):
        """Frames lost between the last two frames this handle returned (0: none)."""
        return self._missed

    @property
    def total_missed(self):
        """Frames lost since this handle opened."""
        return self._total_missed

    @property
    def closed(self):
        return self._closed

    # --- writing ---

    def write(self, array, timeout=DEFAULT_WRITE_TIMEOUT):
        """Publishes one frame (copied from array: same shape, or same number of elements). In 'block' mode
        waits up to timeout seconds for room (then StreamTimeoutError, nothing written)."""
        value = self._checked_value(array)
        with self.loan(timeout=timeout) as loan:
            np.copyto(loan.array, value, casting='same_kind')
            loan.publish()

    def loan(self, timeout=DEFAULT_WRITE_TIMEOUT):
        """Loans the next slot: fill `loan.array` in place, then `loan.publish()`. Holds the write lock until
        then. In 'block' mode waits up to timeout seconds (None: no limit) for the lock and for room."""
        self._check_open()
        key = (self._location.lock, threading.get_ident())
        if self._loan is not None or key in _loans_in_progress:
            raise TsshmemError('ERR_LOAN_ACTIVE', f'a loan of {self._label} is outstanding in this thread: publish() or abandon() it before writing or loaning again')
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        self._lock.acquire(timeout)
        try:
            status, index, slot = self._ring.begin_write(deadline)
            if status == BLOCKED:
                raise self._no_room_error(timeout)
            self._raise_if_corrupt(status)
        except BaseException:
            self._lock.release()
            raise
        _loans_in_progress.add(key)

        def settle(publish):
            self._loan = None
            _loans_in_progress.discard(key)
            try:
                if publish:
                    self._ring.publish(index, slot)
                # Unpublished: the slot stays marked being written, as after a crash; the next writer reuses it.
            finally:
                self._lock.release()

        self._loan = Loan(self._slot_array(slot, writable=True), settle)
        return self._loan

    # --- reading ---

    def next(self, timeout=None, out=None):
        """The next frame after the last one this handle returned, in write order, as a new array (or
        copied into out). Waits up to timeout seconds (None: no limit; then StreamTimeoutError). A reader
        more than `history` frames behind gets the oldest frame still held; `missed` counts the loss."""
        destination = self._destination(out)
        flat = destination.reshape(-1).view(np.uint8)
        return self._await(lambda: self._take_copy(destination, flat), timeout)

    def next_view(self, timeout=None):
        """next() without a copy: a View whose array is the slot itself, which writers skip until
        view.release() (or the end of a `with` block). At most 4 views per handle."""
        return self._await(self._take_view, timeout)

    def read(self, out=None):
        """The newest frame (a copy); later next() calls continue after it. Does not register: a handle
        that only reads the newest frame (a monitor) never holds writers back."""
        self._check_open()
        destination = self._destination(out)
        flat = destination.reshape(-1).view(np.uint8)
        status, cursor, frame = self._ring.take_newest(self._cursor, flat)
        self._raise_if_corrupt(status)
        self._move_cursor(cursor)
        payload_newer = self._geometry.pyshmem_frame and self._ring.meta_count() > (frame[1] if frame else -1)
        if status == FRAME and not payload_newer:
            self._observe(frame[1], frame[2])
        else:
            self._read_payload(flat)
        return destination

    def register(self):
        """Enters this handle in the ring's reader table now (else its first next() or next_view() does):
        from then on block-mode writers wait for it. False if the table (64 entries) is full of live readers."""
        self._check_open()
        self._register()
        return self._entry >= 0

    def close(self):
        """Gives back the loan, views, reader entry and wake slot; unmaps. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._loan is not None:
                self._loan.abandon()
            for view in self._views:
                if view is not None:
                    view.release()
            if self._entry >= 0:
                self._ring.release_reader(self._entry)
            if self._wake_slot >= 0:
                self._wake.release(self._wake_slot)
            self._wake.close()
            self._lock.close()
        finally:
            self._close_meta_fd()  # after release_reader unlocked the entry (closing would drop the lock too)
        self._ring = self._wake = self._fields = None
        for mapping in (self._meta_map, self._data_map):
            try:
                mapping.close()
            except BufferError:
                pass  # an array the caller still holds keeps the mapping until it is collected

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = 'closed' if self._closed else f'history={self.history}, overflow={self.overflow!r}'
        return f'RingStream({self._name!r}, shape={self._shape}, dtype={self._dtype.name}, {state})'

    # --- internals ---

    def _check_open(self):
        if self._closed:
            raise TsshmemError('ERR_STREAM_CLOSED', f'{self._label} is closed: open() it again')

    def _register(self):
        # On the first next-frame read or wait (not read()); a full table leaves this handle unregistered (block-mode writers do
        # not wait for it, and it can hold no view).
        if not self._registered:
            self._registered = True
            self._entry = self._ring.claim_reader(os.getpid(), self._cursor)

    def _move_cursor(self, cursor):
        if cursor != self._cursor:
            self._cursor = cursor
            self._ring.publish_cursor(self._entry, cursor)

    def _await(self, take, timeout):
        self._check_open()
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while True:
            taken, meta_count = take()
            if taken is not None:
                return taken
            if time.monotonic() >= deadline:
                raise StreamTimeoutError(f'no new write to {self._label} within {timeout} s')
            if not self._wake_claimed:
                self._wake_claimed = True
                self._wake_slot = self._wake.claim(os.getpid())
            self._ring.wait_for_count(meta_count, min(deadline, time.monotonic() + 3600), self._wake_slot)

    def _take_copy(self, destination, flat):
        self._register()
        status, cursor, frame, meta_count = self._ring.take(self._cursor, self._last_count, flat)
        self._move_cursor(cursor)
        if status == FRAME:
            self._observe(frame[1], frame[2])
            return destination, meta_count
        self._raise_if_corrupt(status)
        if not self._foreign_frame_waits(meta_count):
            return None, meta_count
        self._read_payload(flat)
        return destination, meta_count

    def _take_view(self):
        self._register()
        if self._entry < 0:
            raise TsshmemError('ERR_SAMPLE_LIMIT', f'the reader table of {self._label} is full of live readers: this handle cannot hold views; use next(), or close other readers')
        if None not in self._views:
            raise TsshmemError('ERR_SAMPLE_LIMIT', f'this handle of {self._label} already holds 4 views: release() one (or use `with`) before taking another')
        hold = self._views.index(None)
        status, cursor, frame, meta_count = self._ring.take(self._cursor, self._last_count, None, self._entry, hold)
        self._move_cursor(cursor)
        if status == FRAME:
            self._observe(frame[1], frame[2])
            array = self._slot_array(self._ring.slot_of(frame[0]), writable=False)
            view = View(array, int(frame[1]), frame[2], lambda: self._release_view(hold))
            self._views[hold] = view
            return view, meta_count
        self._raise_if_corrupt(status)
        if not self._foreign_frame_waits(meta_count):
            return None, meta_count
        # A pyshmem writer's frame lives only in the payload, which the next write overwrites: a copy.
        copy = np.empty(self._shape, self._dtype)
        self._read_payload(copy.reshape(-1).view(np.uint8))
        copy.flags.writeable = False
        return View(copy, int(self._last_count), self._last_write_time, lambda: None), meta_count

    def _release_view(self, hold):
        self._views[hold] = None
        if self._ring is not None:
            self._ring.release_hold(self._entry, hold)

    def _foreign_frame_waits(self, meta_count):
        """Nothing newer in the ring, but the count moved: a pyshmem writer wrote a frame only the payload holds."""
        return self._geometry.pyshmem_frame and meta_count > self._last_count

    def _read_payload(self, flat):
        count = self._ring.read_payload(flat, _READ_PAYLOAD_TIMEOUT)
        if count is None:
            raise StreamTimeoutError(f'a read of {self._label} timed out after {_READ_PAYLOAD_TIMEOUT} s: a write in progress did not finish')
        self._observe(count, float(self._fields[WRITE_TIME]))

    def _observe(self, count, write_time):
        missed = max(0, int(count - self._last_count - 1))
        self._missed = missed
        self._total_missed += missed
        self._last_count = count
        self._last_write_time = write_time

    def _slot_array(self, slot, writable):
        g = self._geometry
        array = np.ndarray(self._shape, self._dtype, self._data_map, g.slots_offset + slot * g.stride)
        array.flags.writeable = writable
        return array

    def _destination(self, out):
        if out is None:
            return np.empty(self._shape, self._dtype)
        if not isinstance(out, np.ndarray) or out.dtype != self._dtype or out.size != math.prod(self._shape) or not out.flags.c_contiguous or not out.flags.writeable:
            raise TsshmemError('ERR_INVALID_ARG_TYPE', f'out must be a writable C-contiguous {self._dtype.name} array of {math.prod(self._shape)} elements')
        return out

    def _checked_value(self, array):
        self._check_open()
        value = np.asarray(array)
        if value.shape != self._shape:
            if value.size != math.prod(self._shape):
                raise TsshmemError('ERR_INVALID_ARG_VALUE', f'{self._label} holds arrays of shape {self._shape}; received shape {value.shape}')
            value = value.reshape(self._shape)
        if not np.can_cast(value.dtype, self._dtype, 'same_kind'):
            raise TsshmemError('ERR_INVALID_ARG_TYPE', f'{self._label} holds {self._dtype.name}; {value.dtype} does not convert to it without changing kind: pass {self._dtype.name} values')
        return value

    def _raise_if_corrupt(self, status):
        if status == CORRUPT:
            raise InvalidStreamError('ERR_INVALID_STREAM', f'the metadata of {self._label} no longer holds a valid count, write sequence or ring head: another process corrupted it; unlink and recreate the stream')

    def _no_room_error(self, timeout):
        return StreamTimeoutError(f"write to {self._label} (overflow 'block') found no room within {timeout} s: a registered reader is {self.history} frames behind, or every slot is held by views; readers free room by reading and by releasing views (pass a longer timeout to wait longer)")


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise TsshmemError('ERR_INVALID_ARG_TYPE', f'a stream name must be a non-empty string, received {name!r}')


def _check_shape(shape):
    dimensions = (shape,) if isinstance(shape, (int, np.integer)) else shape
    try:
        dimensions = tuple(dimensions)
    except TypeError:
        raise TsshmemError('ERR_INVALID_ARG_TYPE', f'shape must be a positive integer or a sequence of them, received {shape!r}') from None
    if not 1 <= len(dimensions) <= MAX_NDIM or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dimensions):
        raise TsshmemError('ERR_INVALID_ARG_VALUE', f'shape must be 1 to {MAX_NDIM} positive integers, received {shape!r}')
    return tuple(int(d) for d in dimensions)


def _check_dtype(dtype):
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or code_of_dtype(resolved) is None:
        raise TsshmemError('ERR_INVALID_ARG_VALUE', f'dtype must be one of {", ".join(DTYPES)}, received {dtype!r}')
    return resolved


def _create_object(name, path, size, mode):
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise StreamExistsError(f'stream {name!r} already exists: use tsshmem.open({name!r}) to attach to it, or tsshmem.unlink({name!r}) first') from None
    try:
        os.fchmod(fd, mode)  # the umask cannot narrow it
        os.ftruncate(fd, size)  # zero-filled
    except BaseException:
        os.close(fd)
        _remove(path)
        raise
    return fd


def _remove(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def _try_open(name, location):
    """(meta, data, geometry, meta_fd), or an exception to raise if it persists (a creator may still be at
    work). The caller owns meta_fd, open on success only."""
    try:
        meta_fd = os.open(location.meta, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise StreamNotFoundError(f'stream {name!r} does not exist: create it with tsshmem.create({name!r}, shape=..., dtype=..., history=...)') from None
    data_fd = -1
    keep_meta_fd = False
    try:
        meta_bytes = os.fstat(meta_fd).st_size
        head = os.pread(meta_fd, min(meta_bytes, EXTENDED_METADATA_BYTES), 0)
        if len(head) < 256:
            return _invalid(name, f'its metadata object is {len(head)} bytes, shorter than 256')
        header, problem = decode_header(np.frombuffer(head, '<f8', 32))
        if header is None:
            error = _invalid(name, problem[0])
            if problem[1]:
                raise error
            return error
        try:
            data_fd = os.open(location.data, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return StreamNotFoundError(f'stream {name!r} has no data object yet')
        data_bytes = os.fstat(data_fd).st_size
        if data_bytes < header['size']:
            raise _invalid(name, f'its data object is {data_bytes} bytes, shorter than the payload size {header["size"]}')
        control = os.pread(meta_fd, C_SLOT_HEADERS, RING_CONTROL_OFFSET) if meta_bytes > RING_CONTROL_OFFSET else b''
        if head[MAGIC_OFFSET:MAGIC_OFFSET + 8] != EXTENSION_MAGIC or control[:8] != RING_MAGIC:
            if header['ring_only']:
                raise _invalid(name, 'its metadata version says ring-only but it has no ring control area')
            raise InvalidStreamError(
                'ERR_NOT_RING',
                f'stream {name!r} is a plain pyshmem stream (one frame, no ring of history): tsshmem for Python opens ring streams only. '
                'Read and write it with pyshmem, or re-create it as a ring stream (tsshmem.create(..., history=N) here, or create(name, { history }) in Node).',
            )
        geometry, problem = decode_ring_control(control, header, meta_bytes, data_bytes)
        if geometry is None:
            raise _invalid(name, problem)
        if header['gpu']:
            raise _invalid(name, 'it is a GPU stream, which tsshmem for Python does not map')
        meta, data = mmap.mmap(meta_fd, meta_bytes), mmap.mmap(data_fd, data_bytes)
        keep_meta_fd = True
        return meta, data, geometry, meta_fd
    finally:
        if not keep_meta_fd:
            os.close(meta_fd)
        if data_fd >= 0:
            os.close(data_fd)


def _invalid(name, problem):
    return InvalidStreamError('ERR_INVALID_STREAM', f'stream {name!r} is not a valid ring stream: {problem}')
