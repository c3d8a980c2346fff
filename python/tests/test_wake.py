"""Unit tests of python/tsshmem's wake slots (format.md Part 2), on a metadata block in memory.
Run: PYTHONPATH=python python3 -m unittest discover -s python/tests"""
import unittest

import numpy as np

from tsshmem import _atomics
from tsshmem._layout import IDLE, WAITING, WAKE_SLOTS, WAKE_WAITING
from tsshmem._wake import WakeSlots

PID, TOKEN = 4242, 7


class RefusingSocket:
    """A send socket whose datagrams find nobody bound (ECONNREFUSED); `during` runs first."""

    def __init__(self, during=lambda: None):
        self.during = during

    def sendto(self, data, flags, address):
        self.during()
        raise ConnectionRefusedError(address)


class SendCleanup(unittest.TestCase):
    def setUp(self):
        self.meta = bytearray(4096)
        self.words = np.ndarray((1024,), '<u4', self.meta)
        slot = WAKE_SLOTS // 4  # slot 0's words: pid, token, state
        self.pid, self.token, self.state = slot, slot + 1, slot + 2
        self.words[self.pid], self.words[self.token], self.words[self.state] = PID, TOKEN, WAITING
        self.words[WAKE_WAITING // 4] = 1
        self.slots = WakeSlots(self.meta, _atomics.load(), futex=None)

    def test_a_datagram_that_finds_nobody_leaves_the_slot_waiting_state(self):
        self.slots._socket = RefusingSocket()
        self.slots.notify()
        self.assertEqual(int(self.words[self.state]), IDLE)
        self.assertEqual(int(self.words[WAKE_WAITING // 4]), 0)

    def test_a_slot_that_changed_hands_during_the_send_stays_waiting(self):
        # Its new owner's socket was never sent to: resetting it would cost that waiter its wakes.
        def hand_over():
            self.words[self.token] = TOKEN + 1

        self.slots._socket = RefusingSocket(hand_over)
        self.slots.notify()
        self.assertEqual(int(self.words[self.state]), WAITING)
        self.assertEqual(int(self.words[WAKE_WAITING // 4]), 1)


if __name__ == '__main__':
    unittest.main()
