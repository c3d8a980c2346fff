#!/usr/bin/env python3
"""The Python side of the bench's python section (src/bench/python.ts).

Usage: handover.py ROLE 'JSON-ARGUMENTS' with {ping, pong, warmupSeconds, seconds}; prints "ready"
once its streams are open and one JSON line at the end ({samples, medianUs, p99Us} for initiators).

  ring-initiator     tsshmem for Python: loan() a slot of the ring stream `ping`, write one element,
                     publish(); wait for the echo on `pong` with next_view(), read one element,
                     release(). The echo is Node (peers/ring-handover.js, nextSample()).
  pyshmem-initiator  pyshmem's format and protocol, as pyshmem 1.0.2 does it: write() the whole frame
                     to `ping` (flock, sequence odd, copy, count, sequence even), wait for `pong`'s
                     count by polling every 10 us, then a safe (seqlock) read of the whole frame.
  pyshmem-echo       the other side: the same wait and safe read on `ping`, a write() of the frame to `pong`.
"""
import fcntl
import hashlib
import json
import mmap
import os
import sys
import tempfile
import time

import numpy as np

END_FRAME = -1.0
COUNT, WRITE_TIME, SEQUENCE, OWNER, DEPTH = 1, 8, 9, 10, 11
POLL_SECONDS = 10e-6


def emit(value):
    print(value if isinstance(value, str) else json.dumps(value), flush=True)


def summarize(samples_us):
    ordered = np.sort(np.asarray(samples_us))
    rank = lambda fraction: float(ordered[max(0, int(np.ceil(fraction * len(ordered))) - 1)])
    return {'samples': len(ordered), 'medianUs': rank(0.5), 'p99Us': rank(0.99)}


def timed_rounds(args, round_trip):
    """Round trips for warmupSeconds, then timed ones for seconds; the latency summary."""
    measure_from = time.perf_counter() + args['warmupSeconds']
    end = measure_from + args['seconds']
    samples = []
    value = 0.0
    while True:
        value += 1
        start = time.perf_counter()
        round_trip(value)
        now = time.perf_counter()
        if now >= measure_from:
            samples.append((now - start) * 1e6)
            if now >= end:
                return summarize(samples)


def ring_initiator(args):
    import tsshmem

    with tsshmem.open(args['ping']) as ping, tsshmem.open(args['pong']) as pong:
        pong.register()
        emit('ready')
        timeout = args['warmupSeconds'] + args['seconds'] + 10

        def send(value):
            with ping.loan(timeout=timeout) as slot:
                slot.array.flat[0] = value
                slot.publish()

        def round_trip(value):
            send(value)
            with pong.next_view(timeout=timeout) as view:
                view.array.flat[0]

        latency = timed_rounds(args, round_trip)
        send(END_FRAME)
    emit(latency)


class PyshmemStream:
    """One stream in pyshmem's format, accessed as pyshmem 1.0.2 does (docs/format.md Part 1)."""

    DTYPES = ['<i1', '<i2', '<i4', '<i8', '<u1', '<u2', '<u4', '<u8', '<f2', '<f4', '<f8']

    def __init__(self, name):
        base = 'ps_' + hashlib.sha1(name.encode('utf-8')).hexdigest()[:14]
        self.meta = np.ndarray((32,), '<f8', self._map('/dev/shm/' + base + '_meta'))
        dtype = np.dtype(self.DTYPES[int(self.meta[2])])
        shape = tuple(int(d) for d in self.meta[13:13 + int(self.meta[3])])
        self.data = np.ndarray(shape, dtype, self._map('/dev/shm/' + base))
        directory = os.path.join(tempfile.gettempdir(), 'pyshmem-locks')
        self.lock = open(os.path.join(directory, base + '.lock'), 'a')

    @staticmethod
    def _map(path):
        fd = os.open(path, os.O_RDWR)
        try:
            return mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)

    def write(self, frame):
        fcntl.flock(self.lock.fileno(), fcntl.LOCK_EX)
        self.meta[OWNER], self.meta[DEPTH] = os.getpid(), 1
        self.meta[SEQUENCE] += 1
        self.data[...] = frame
        self.meta[COUNT] += 1
        self.meta[WRITE_TIME] = time.time()
        self.meta[SEQUENCE] += 1
        self.meta[OWNER], self.meta[DEPTH] = 0, 0
        fcntl.flock(self.lock.fileno(), fcntl.LOCK_UN)

    def wait_and_read(self, last_count):
        while self.meta[COUNT] == last_count:
            time.sleep(POLL_SECONDS)
        while True:
            before = self.meta[SEQUENCE]
            if int(before) % 2:
                continue
            copy = self.data.copy()
            if self.meta[SEQUENCE] == before:
                return copy


def pyshmem_side(args, initiator):
    ping, pong = PyshmemStream(args['ping']), PyshmemStream(args['pong'])
    outgoing, incoming = (ping, pong) if initiator else (pong, ping)
    frame = np.zeros(ping.data.shape, ping.data.dtype)
    emit('ready')

    def exchange(value):
        frame.flat[0] = value
        outgoing.write(frame)
        return incoming.wait_and_read(incoming_count[0])

    incoming_count = [float(incoming.meta[COUNT])]

    def round_trip(value):
        exchange(value)
        incoming_count[0] += 1

    if initiator:
        latency = timed_rounds(args, round_trip)
        frame.flat[0] = END_FRAME
        outgoing.write(frame)
        emit(latency)
        return
    while True:
        received = incoming.wait_and_read(incoming_count[0])
        incoming_count[0] += 1
        if received.flat[0] == END_FRAME:
            break
        frame[...] = received
        outgoing.write(frame)
    emit({})


def main():
    role, args = sys.argv[1], json.loads(sys.argv[2])
    if role == 'ring-initiator':
        ring_initiator(args)
    elif role in ('pyshmem-initiator', 'pyshmem-echo'):
        pyshmem_side(args, role == 'pyshmem-initiator')
    else:
        raise SystemExit(f'unknown role {role}')


main()
