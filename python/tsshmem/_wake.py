"""Wake slots (format.md Part 2): how a writer wakes every reader waiting on
a stream, and how a Python reader sleeps in futex(2) until a writer wakes it.

Writers (after a completed write): fetch_add(notify word); if wake-waiting
is not 0, one datagram to each WAITING slot's abstract socket (Node readers
awaiting next()) and one FUTEX_WAKE of the notify word if any slot is
SLEEPING (Python readers in next(), Node readers in readNewSync(), and Node
readers in next() whose socket this writer cannot reach).
Readers (Python): a SLEEPING slot, claimed on the first wait that does not
end at once and kept until close."""
import socket

import numpy as np

from . import _atomics
from ._layout import IDLE, SLEEPING, WAITING, NOTIFY_WORD, WAKE_SLOT_BYTES, WAKE_SLOT_COUNT, WAKE_SLOTS, WAKE_WAITING
from ._system import OWN_PID_NAMESPACE, owner_is_gone

_WAKE_BYTE = b'\x01'
_SEND_FLAGS = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL


class WakeSlots:
    def __init__(self, meta, atomics, futex):
        """meta: the metadata object's mapping (4096 bytes or more, with the extension magic)."""
        self._atomics = atomics
        self._futex = futex
        slot_field = lambda field: np.ndarray((WAKE_SLOT_COUNT,), '<u4', meta, WAKE_SLOTS + 4 * field, (WAKE_SLOT_BYTES,))
        self._pid, self._token, self._state, self._pid_namespace = slot_field(0), slot_field(1), slot_field(2), slot_field(3)
        self._words = np.ndarray((2,), '<u4', meta, NOTIFY_WORD)  # notify, wake-waiting
        base = self._words.ctypes.data - NOTIFY_WORD
        self.notify_address = base + NOTIFY_WORD
        self._waiting_address = base + WAKE_WAITING
        self._slot_address = lambda slot, field: base + WAKE_SLOTS + WAKE_SLOT_BYTES * slot + 4 * field
        self._socket = None
        # What the last notify() did, for diagnostics and tests: datagrams sent, sleepers woken.
        self.last_wakes = {'datagrams': 0, 'sleepers': 0}

    # --- writer side ---

    def notify(self):
        """format.md Part 2, "After a completed write", steps 1-4 (after the count and sequence are stored)."""
        atomics = self._atomics
        # Full barrier: the count stored before it is visible before we read who waits; pairs with a
        # waiter's Enter (CAS, fetch_add) before its loads of the notify word and the count.
        atomics.fetch_add32(self.notify_address, 1)
        self.last_wakes = {'datagrams': 0, 'sleepers': 0}
        if int(self._words[1]) == 0:
            return
        states = self._state.copy()
        _atomics.acquire(atomics)
        datagrams = sum(self._send(int(slot)) for slot in np.flatnonzero(states == WAITING))
        woken = self._futex.wake_all(self.notify_address) if (states == SLEEPING).any() else -1
        if woken == 0:
            self._reap_dead_sleepers()
        self.last_wakes = {'datagrams': datagrams, 'sleepers': max(woken, 0)}

    def _send(self, slot):
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        pid, token = int(self._pid[slot]), int(self._token[slot])
        address = b'\0tsshmem-wake-%d-%d' % (pid, token)
        try:
            self._socket.sendto(_WAKE_BYTE, _SEND_FLAGS, address)
            return 1
        except ConnectionRefusedError:
            # Nobody bound there: the waiter died, or waits in another network namespace (it then
            # turns to futex wakes). Unless the slot changed hands meanwhile: its new owner stays WAITING.
            if int(self._pid[slot]) == pid and int(self._token[slot]) == token:
                self._leave_state(slot, WAITING)
        except OSError:
            pass  # a full socket buffer: the waiter has wakes pending already
        return 0

    def _reap_dead_sleepers(self):
        for slot in range(WAKE_SLOT_COUNT):
            if int(self._state[slot]) == SLEEPING and owner_is_gone(int(self._pid[slot]), int(self._pid_namespace[slot])):
                self._leave_state(slot, SLEEPING)

    # --- reader side ---

    def claim(self, pid, token=0):
        """A slot for this process (pass 1: free; pass 2: of a dead process), or -1."""
        for reclaim in (False, True):
            for slot in range(WAKE_SLOT_COUNT):
                current = int(self._pid[slot])
                takeable = owner_is_gone(current, int(self._pid_namespace[slot])) if reclaim else current == 0
                if takeable and self._atomics.cas32(self._slot_address(slot, 0), current, pid):
                    # Until now the word held 0 or the dead owner's namespace, which was ours.
                    self._store(self._pid_namespace, slot, OWN_PID_NAMESPACE)
                    self.leave(slot)  # a previous owner's state is stale
                    self._store(self._token, slot, token)
                    return slot
        return -1

    def release(self, slot):
        self.leave(slot)
        self._store(self._pid_namespace, slot, 0)
        self._store(self._pid, slot, 0)

    def enter_sleeping(self, slot):
        if self._atomics.cas32(self._slot_address(slot, 2), IDLE, SLEEPING):
            self._atomics.fetch_add32(self._waiting_address, 1)

    def leave(self, slot):
        if not self._leave_state(slot, WAITING):
            self._leave_state(slot, SLEEPING)

    def _leave_state(self, slot, state):
        if not self._atomics.cas32(self._slot_address(slot, 2), state, IDLE):
            return False
        self._atomics.fetch_add32(self._waiting_address, -1)
        return True

    def load_notify(self):
        # Plain load after the Enter's CAS and fetch_add (full barriers).
        return int(self._words[0])

    def _store(self, words, slot, value):
        # Sequentially consistent store: a plain store between two full barriers.
        self._atomics.fence()
        words[slot] = value
        self._atomics.fence()

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
