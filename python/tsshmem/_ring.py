"""The ring protocol (format.md Part 3), step for step as
packages/tsshmem/src/native/ring/ring_protocol.cc does it: writers choose and
publish slots under the flock; readers take frames in order, hold slots
(views) and move their cursor; nobody takes a lock to read.

Memory ordering in Python: NumPy element loads and stores of aligned words
are single plain loads and stores. Where the spec asks for acquire loads and
release stores they are enough on x86-64 (TSO) and get a barrier elsewhere
(_atomics.acquire / release). Where it asks for a sequentially consistent
store followed by a load (Dekker pairs), a full barrier (mfence or
atomic_thread_fence) follows the store: _sc_store.

Reader liveness (ring layout version 2): a registered reader holds an OFD write lock (fcntl F_OFD_SETLK)
on its entry's 32 bytes of the metadata object, taken on its handle's descriptor of that object. The kernel
drops it when the process dies, in any pid namespace, and a reused pid cannot fake it: an entry whose lock
another handle can take has no live owner."""
import fcntl
import os
import struct
import time

import numpy as np

from . import _atomics
from ._layout import (C_HEAD, C_PROGRESS, C_SLOT_HEADERS, C_WRITERS_WAITING, COUNT, HOLDS_PER_READER, MAX_COUNTER,
                      NO_CURSOR, READER_ENTRY_BYTES, RING_CONTROL_OFFSET, SEQUENCE, SLOT_HEADER_BYTES, WRITE_TIME, is_counter,
                      reader_entry_offset)
from ._system import OWN_PID_NAMESPACE

FRAME, NOTHING, BLOCKED, CORRUPT = 'frame', 'nothing', 'blocked', 'corrupt'
_FREE, _HELD = 'free', 'held'
_WAIT_SLICE = 1e-3

# fcntl(2) F_OFD_SETLK (Linux 3.15; Python 3.9+ names it) and struct flock: short l_type, short l_whence,
# off_t l_start, off_t l_len, pid_t l_pid, padded to 32 bytes on 64-bit Linux (x86-64, arm64).
_F_OFD_SETLK = getattr(fcntl, 'F_OFD_SETLK', 37)
_FLOCK = struct.Struct('hhqqi4x')


def _entry_lock(fd, start, kind):
    """F_OFD_SETLK of [start, start + 32) (never waits): True if done, False if another open file
    description holds a conflicting lock (EAGAIN, EACCES) or the call failed otherwise, which counts
    the same (docs/format.md, "Reader liveness"). kind: fcntl.F_WRLCK or fcntl.F_UNLCK."""
    try:
        fcntl.fcntl(fd, _F_OFD_SETLK, _FLOCK.pack(kind, os.SEEK_SET, start, READER_ENTRY_BYTES, 0))
    except OSError:
        return False
    return True


class Ring:
    def __init__(self, meta, data, geometry, fields, wake, atomics, futex, meta_fd):
        """meta, data: the mappings; fields: the 32 metadata fields (a live view); wake: WakeSlots;
        meta_fd: the handle's descriptor of the metadata object (open for its lifetime): entry locks go on it."""
        self.g = geometry
        self._meta_fd = meta_fd
        self._own_entry = -1  # the entry this handle registered (and whose lock it holds), or -1
        self._own_pid = 0  # the process that registered it: a forked copy of the handle leaves it alone
        self._fields = fields
        self._wake = wake
        self._atomics = atomics
        self._futex = futex
        n, readers = geometry.slots, geometry.readers
        control = RING_CONTROL_OFFSET
        headers = control + C_SLOT_HEADERS
        entries = headers + n * SLOT_HEADER_BYTES
        self._head = np.ndarray((1,), '<u8', meta, control + C_HEAD)
        self._room_words = np.ndarray((2,), '<u4', meta, control + C_PROGRESS)  # progress, writers waiting
        self._seq = np.ndarray((n,), '<u8', meta, headers, (SLOT_HEADER_BYTES,))
        self._slot_count = np.ndarray((n,), '<u8', meta, headers + 8, (SLOT_HEADER_BYTES,))
        self._slot_time = np.ndarray((n,), '<f8', meta, headers + 16, (SLOT_HEADER_BYTES,))
        self._entry_pid = np.ndarray((readers,), '<u4', meta, entries, (READER_ENTRY_BYTES,))
        self._entry_pid_namespace = np.ndarray((readers,), '<u4', meta, entries + 4, (READER_ENTRY_BYTES,))
        self._entry_cursor = np.ndarray((readers,), '<u8', meta, entries + 8, (READER_ENTRY_BYTES,))
        self._entry_holds = np.ndarray((readers, HOLDS_PER_READER), '<u4', meta, entries + 16, (READER_ENTRY_BYTES, 4))
        base = self._head.ctypes.data - control - C_HEAD
        self._progress_address = base + control + C_PROGRESS
        self._waiting_address = base + control + C_WRITERS_WAITING
        self._entry_pid_address = lambda entry: base + entries + entry * READER_ENTRY_BYTES
        self.slot_bytes = np.ndarray((n, geometry.frame_bytes), np.uint8, data, geometry.slots_offset, (geometry.stride, 1))
        self.payload = np.ndarray((geometry.frame_bytes,), np.uint8, data, 0)

    def slot_of(self, index):
        return (index - 1) % self.g.slots

    def load_head(self):
        head = int(self._head[0])
        _atomics.acquire(self._atomics)  # pairs with the release store of head in publish
        return head

    def meta_count(self):
        count = float(self._fields[COUNT])
        _atomics.acquire(self._atomics)  # pairs with the release store of count in publish
        return count

    def _sc_store(self, words, index, value):
        """A sequentially consistent store: loads after it see it ordered (Dekker pairs)."""
        _atomics.release(self._atomics)
        words[index] = value
        self._atomics.fence()

    # --- writer side: the caller holds the flock ---

    def _next_count(self):
        # One more than the newest count anywhere (the pyshmem count, or the head frame's if a writer
        # died between publishing it and storing the count): counts never repeat.
        count = float(self._fields[COUNT])
        head = self.load_head()
        if head > 0:
            slot = self.slot_of(head)
            if int(self._seq[slot]) == 2 * head:
                count = max(count, float(self._slot_count[slot]))
        return count + 1

    def _lock_entry(self, entry):
        return _entry_lock(self._meta_fd, reader_entry_offset(self.g.slots, entry), fcntl.F_WRLCK)

    def _unlock_entry(self, entry):
        _entry_lock(self._meta_fd, reader_entry_offset(self.g.slots, entry), fcntl.F_UNLCK)

    def _reap_if_gone(self, entry):
        """Frees the entry if no live process owns it (nobody holds its lock); True if this call freed it."""
        if entry == self._own_entry:
            return False  # our own lock does not conflict with itself, and unlocking would drop it
        if not self._lock_entry(entry):
            return False  # its owner holds the lock: alive
        try:
            pid = int(self._entry_pid[entry])
            # Only the pid is taken back: a new owner resets holds and cursor itself.
            return pid != 0 and self._atomics.cas32(self._entry_pid_address(entry), pid, 0)
        finally:
            self._unlock_entry(entry)

    def _room_for(self, index, slot):
        """Whether frame `index` may go to its slot: not held, and (block mode) every live reader consumed
        the frame the slot holds. The loads follow a full barrier (the caller's _sc_store or fetch_add)."""
        victim = index - self.g.slots if index > self.g.slots else 0
        pids = self._entry_pid.copy()
        live = pids != 0
        if not live.any():
            return _FREE
        held = live & (self._entry_holds == slot + 1).any(axis=1)
        behind = live & (self._entry_cursor < victim) if self.g.overflow == 'block' and victim > 0 else np.zeros_like(live)
        _atomics.acquire(self._atomics)
        blocked = False
        for entry in np.flatnonzero(held | behind):
            if self._reap_if_gone(int(entry)):
                continue
            if held[entry]:
                return _HELD
            blocked = True
        return BLOCKED if blocked else _FREE

    def begin_write(self, deadline):
        """Chooses the slot for the next frame and marks it being written: (FRAME, index, slot),
        (BLOCKED, ...) when block mode found no room by deadline (time.monotonic()), or (CORRUPT, ...)."""
        if not is_counter(float(self._fields[COUNT])) or not is_counter(float(self._fields[SEQUENCE])) or self.load_head() >= MAX_COUNTER:
            return CORRUPT, 0, 0
        status = self._attempt()
        if status[0] != BLOCKED or time.monotonic() >= deadline:
            return status
        # Full barrier: pairs with a reader's load of writers-waiting after it stores its cursor or clears
        # a hold (wake_writers): either we see its room, or it sees us and bumps progress.
        self._atomics.fetch_add32(self._waiting_address, 1)
        try:
            while True:
                seen = int(self._room_words[0])
                status = self._attempt()
                left = deadline - time.monotonic()
                if status[0] != BLOCKED or left <= 0:
                    return status
                self._futex.wait(self._progress_address, seen, min(left, _WAIT_SLICE))
        finally:
            self._atomics.fetch_add32(self._waiting_address, -1)

    def _attempt(self):
        head = self.load_head()
        # Skips the slots that readers hold (their frames stay); at most N tries.
        for index in range(head + 1, head + self.g.slots + 1):
            slot = self.slot_of(index)
            room = self._room_for(index, slot)
            if room == BLOCKED:
                return BLOCKED, 0, 0
            if room == _HELD:
                continue
            before = int(self._seq[slot])
            # Odd: being written. Sequentially consistent, then the holds are loaded again: pairs with a
            # reader's hold store + seq load in take().
            self._sc_store(self._seq, slot, 2 * index - 1)
            if self._room_for(index, slot) == _FREE:
                return FRAME, index, slot
            self._sc_store(self._seq, slot, before)  # a reader took hold meanwhile: give its frame back
        return BLOCKED, 0, 0

    def publish(self, index, slot):
        """Publishes frame `index` from `slot`: slot header, head, the pyshmem payload copy (if kept)
        and count; then wakes waiters (format.md Part 3 steps 6-8; the caller releases the flock after)."""
        fields = self._fields
        count = self._next_count()
        now = time.time()
        self._slot_count[slot] = int(count)
        self._slot_time[slot] = now
        _atomics.release(self._atomics)  # count, time and the frame's bytes before seq = 2P
        self._seq[slot] = 2 * index
        _atomics.release(self._atomics)  # pairs with load_head's acquire
        self._head[0] = index
        if self.g.pyshmem_frame:
            # Part 1, Writing, steps 3-7, with the slot as the source.
            sequence = float(fields[SEQUENCE])
            if int(sequence) & 1:
                sequence += 1
            fields[SEQUENCE] = sequence + 1
            # The odd sequence before any payload byte changes; pairs with the seqlock reader's re-check.
            _atomics.release(self._atomics)
            np.copyto(self.payload, self.slot_bytes[slot])
            fields[WRITE_TIME] = now
            _atomics.release(self._atomics)  # pairs with meta_count's acquire: the new count implies the new head
            fields[COUNT] = count
            _atomics.release(self._atomics)
            fields[SEQUENCE] = sequence + 2
        else:
            fields[WRITE_TIME] = now
            _atomics.release(self._atomics)
            fields[COUNT] = count
        self._wake.notify()

    # --- reader side ---

    def claim_reader(self, pid, cursor):
        """Registers in the first entry whose lock this handle can take, keeping the lock until
        release_reader: the entry number, or -1 if every entry's lock is held (64 live readers)."""
        for entry in range(self.g.readers):
            if not self._lock_entry(entry):
                continue  # a live owner, or another handle claiming or reaping it right now
            # 0 if free, else the pid of an owner that died (we hold its lock); whatever its namespace.
            current = int(self._entry_pid[entry])
            if not self._atomics.cas32(self._entry_pid_address(entry), current, pid):
                self._unlock_entry(entry)
                continue
            self._own_entry = entry
            self._own_pid = pid
            # The namespace is informational only now: liveness is the lock.
            self._sc_store(self._entry_pid_namespace, entry, OWN_PID_NAMESPACE)
            # A previous owner's holds and cursor are stale; writers may see them for an instant.
            for hold in range(HOLDS_PER_READER):
                self._sc_store(self._entry_holds, (entry, hold), 0)
            self._sc_store(self._entry_cursor, entry, cursor)
            self.wake_writers()
            return entry
        return -1

    def release_reader(self, entry):
        if os.getpid() != self._own_pid:
            # A process forked from the one that registered shares its lock (one open file description):
            # releasing here would free the entry under the registering process.
            return
        for hold in range(HOLDS_PER_READER):
            self._sc_store(self._entry_holds, (entry, hold), 0)
        self._sc_store(self._entry_cursor, entry, NO_CURSOR)
        self._sc_store(self._entry_pid_namespace, entry, 0)
        self._sc_store(self._entry_pid, entry, 0)
        # After the entry reads free: a claimer that takes the lock next sees pid 0.
        self._unlock_entry(entry)
        if self._own_entry == entry:
            self._own_entry = -1
        self.wake_writers()

    def publish_cursor(self, entry, cursor):
        if entry < 0:
            return
        self._sc_store(self._entry_cursor, entry, cursor)  # pairs with the writer's cursor loads in _room_for
        self.wake_writers()

    def release_hold(self, entry, hold):
        self._sc_store(self._entry_holds, (entry, hold), 0)
        self.wake_writers()

    def wake_writers(self):
        # After a full barrier (_sc_store): pairs with the writer's fetch_add of writers-waiting.
        if int(self._room_words[1]) == 0:
            return
        self._atomics.fetch_add32(self._progress_address, 1)
        self._futex.wake_all(self._progress_address)

    def take(self, cursor, last_count, destination, entry=-1, hold=0):
        """The oldest frame newer than cursor and last_count, copied into destination (uint8, frame bytes)
        or held in hold `hold` of entry (destination None). Returns (status, cursor, frame, meta_count):
        frame = (index, count, write_time); meta_count: the count seen before looking (wait on it)."""
        # Before looking at head: a frame published after this load also stores a newer count after it,
        # so waiting for the count to change from meta_count cannot miss it.
        meta_count = self.meta_count()
        if not is_counter(meta_count):
            return CORRUPT, cursor, None, meta_count
        n = self.g.slots
        while True:
            head = self.load_head()
            if head >= MAX_COUNTER or head < cursor:
                return CORRUPT, cursor, None, meta_count
            if head == cursor:
                return NOTHING, cursor, None, meta_count
            if head - cursor > n:
                cursor = head - n  # older frames cannot be in the ring any more
            index = cursor + 1
            slot = self.slot_of(index)
            before = int(self._seq[slot])
            _atomics.acquire(self._atomics)  # pairs with the release store of 2P in publish
            if before > 2 * index:
                # Overwritten: this reader fell more than N frames behind.
                cursor = head - n if head > n and head - n > index else index
                continue
            if before != 2 * index:
                cursor = index  # ring index P was skipped by a writer (a reader held its slot)
                continue
            count = float(self._slot_count[slot])
            write_time = float(self._slot_time[slot])
            if destination is not None:
                np.copyto(destination, self.slot_bytes[slot])
                _atomics.acquire(self._atomics)  # the copy's loads before the re-check (seqlock)
                after = int(self._seq[slot])
            else:
                # Sequentially consistent store, then load: pairs with the writer's odd seq store
                # followed by its hold loads (_attempt).
                self._sc_store(self._entry_holds, (entry, hold), slot + 1)
                after = int(self._seq[slot])
                if after != before or count <= last_count:
                    self._sc_store(self._entry_holds, (entry, hold), 0)
            if after != before:
                continue  # overwritten meanwhile: look again
            cursor = index
            if count <= last_count:
                continue  # already delivered (read from the pyshmem payload)
            return FRAME, cursor, (index, count, write_time), meta_count

    def take_newest(self, cursor, destination):
        """The newest ring frame copied into destination: (FRAME, cursor, frame) or (NOTHING, cursor, None)."""
        for _ in range(1 << 20):
            head = self.load_head()
            if head >= MAX_COUNTER:
                return CORRUPT, cursor, None
            if head == 0:
                return NOTHING, cursor, None
            slot = self.slot_of(head)
            if int(self._seq[slot]) != 2 * head:
                continue
            _atomics.acquire(self._atomics)
            count = float(self._slot_count[slot])
            write_time = float(self._slot_time[slot])
            np.copyto(destination, self.slot_bytes[slot])
            _atomics.acquire(self._atomics)
            if int(self._seq[slot]) != 2 * head:
                continue
            return FRAME, max(cursor, head), (head, count, write_time)
        return NOTHING, cursor, None

    def read_payload(self, destination, timeout):
        """Part 1's safe read of the pyshmem payload: the count of the copied write, or None on timeout."""
        fields = self._fields
        deadline = time.monotonic() + timeout
        spins = 0
        while True:
            before = float(fields[SEQUENCE])
            _atomics.acquire(self._atomics)
            if not int(before) & 1:
                count = float(fields[COUNT])
                np.copyto(destination, self.payload)
                _atomics.acquire(self._atomics)
                if float(fields[SEQUENCE]) == before:
                    return count
            spins += 1
            if spins > 1000:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0)

    def wait_for_count(self, last, deadline, wake_slot):
        """Sleeps until the count differs from last or deadline passes (format.md Part 2, SLEEPING);
        wake_slot: a claimed wake slot, or -1 (then 1 ms sleeps)."""
        wake = self._wake
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.meta_count()
            slice_ = min(_WAIT_SLICE, left)
            if wake_slot < 0:
                count = self.meta_count()
                if count == last:
                    time.sleep(slice_)
            else:
                # Enter before loading the count: a writer bumps notify and then reads the slots (full
                # barriers both), so either it sees us and wakes us, or we see its count or notify value.
                wake.enter_sleeping(wake_slot)
                seen = wake.load_notify()
                count = self.meta_count()
                if count == last:
                    self._futex.wait(wake.notify_address, seen, slice_)
                wake.leave(wake_slot)
            if count != last:
                return count
            count = self.meta_count()
            if count != last:
                return count
