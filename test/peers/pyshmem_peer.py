#!/usr/bin/env python3
"""A pyshmem-format peer for tsshmem's tests, written from docs/format.md.

Usage: pyshmem_peer.py COMMAND 'JSON-ARGUMENTS'

It speaks the on-host format of pyshmem 1.0.2 with numpy and the standard
library only (mmap, fcntl), so that tests need no pyshmem install:
  create          {name, shape, dtype}           creates a stream as pyshmem does (256-byte metadata)
  read            {name}                         prints {shape, dtype, size, count, values, data_hex, ...} as JSON
                                                 (data_hex: the payload's bytes, for exact comparisons)
  write           {name, values, announce?}      one compatible write of the flat values (announce: print
                                                 "about to write" right before it)
  write-loop      {name, count, interval_ms,     writes frames filled with 1..count (announce: print
                   announce?}                    "about to write" right before the first)
  hold-lock       {name, seconds}                takes the flock, prints "locked", sleeps, releases
  attach          {name, seconds}                opens the stream (and, as pyshmem, its lock file for
                                                 append), prints "attached", sleeps, writes nothing
  safe-read-loop  {name, reads|seconds, go?}     safe reads, `reads` of them or for `seconds`; prints
                                                 {reads, torn, changes} (torn: non-uniform; changes:
                                                 uniform snapshots whose value differs from the one
                                                 before). go: prints "ready", starts once the file
                                                 `go` exists
  unlink          {name}                         removes the stream's objects and lock file
  crash-mid-write {name, fill}                   takes the lock, marks a write started (sequence
                                                 += 1, odd), fills the first half of the payload,
                                                 prints "odd" and kills itself with SIGKILL
  read-summary    {name}                         one safe read; prints {count, write_sequence,
                                                 length, min, max, uniform} (for large payloads)
  create-slowly   {name, shape, dtype, pause_ms, creates like create, but pauses pause_ms after
                   stage}                        stage "truncated" (zero-filled 256-byte metadata)
                                                 or "version" (version written, nothing else),
                                                 printing "paused" first: a creator caught midway
  fault-writer    {name, id, stopAt, opTimeout}  fault-reader {...}: the fault soak's peers, with the
                                                 line protocol of test/peers/stress_peer.js; writes
                                                 follow pyshmem 1.0.2 exactly (over an odd sequence
                                                 left by a killed writer too: "i K C0 1")
"""
import fcntl
import hashlib
import json
import mmap
import os
import signal
import sys
import tempfile
import time

import numpy as np

DTYPES = ["<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"]
NAMES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"]
VERSION, COUNT, DTYPE, NDIM, SIZE, GPU, DEVICE, CREATOR, TIME, SEQUENCE, OWNER, DEPTH, MIRROR, SHAPE = range(14)


def base_name(name):
    return "ps_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:14]


def lock_path(name):
    directory = os.path.join(tempfile.gettempdir(), "pyshmem-locks")
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, base_name(name) + ".lock")


def map_object(path, size=None, create=False):
    flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        if create:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


class Stream:
    def __init__(self, name):
        base = base_name(name)
        self.meta_map = map_object("/dev/shm/" + base + "_meta")
        self.meta = np.ndarray((32,), dtype="<f8", buffer=self.meta_map)
        if self.meta[VERSION] != 2:
            raise SystemExit("not a pyshmem stream")
        self.dtype = np.dtype(DTYPES[int(self.meta[DTYPE])])
        self.shape = tuple(int(d) for d in self.meta[SHAPE:SHAPE + int(self.meta[NDIM])])
        self.data_map = map_object("/dev/shm/" + base)
        self.data = np.ndarray(self.shape, dtype=self.dtype, buffer=self.data_map)
        self.lock_file = open(lock_path(name), "a")

    def acquire(self):
        fcntl.flock(self.lock_file.fileno(), fcntl.LOCK_EX)
        self.meta[OWNER] = os.getpid()
        self.meta[DEPTH] = 1

    def release(self):
        self.meta[OWNER] = 0
        self.meta[DEPTH] = 0
        fcntl.flock(self.lock_file.fileno(), fcntl.LOCK_UN)

    def write(self, values):
        self.acquire()
        try:
            self.meta[SEQUENCE] += 1
            self.data[...] = np.asarray(values, dtype=self.dtype).reshape(self.shape)
            self.meta[COUNT] += 1
            self.meta[TIME] = time.time()
            self.meta[SEQUENCE] += 1
        finally:
            self.release()

    def safe_read(self):
        while True:
            before = self.meta[SEQUENCE]
            if int(before) % 2 == 1:
                continue
            copy = self.data.copy()
            if self.meta[SEQUENCE] == before:
                return copy


def create(args, pause=lambda stage: None):
    """Creates the stream in pyshmem's order; pause(stage) lets create-slowly
    stop after the objects exist ("truncated") or after the version ("version")."""
    base = base_name(args["name"])
    dtype_code = NAMES.index(args.get("dtype", "float32"))
    shape = args["shape"]
    size = int(np.prod(shape)) * np.dtype(DTYPES[dtype_code]).itemsize
    map_object("/dev/shm/" + base, size, create=True).close()
    meta_map = map_object("/dev/shm/" + base + "_meta", 256, create=True)
    meta = np.ndarray((32,), dtype="<f8", buffer=meta_map)
    pause("truncated")
    meta[VERSION] = 2  # pyshmem writes the version first
    pause("version")
    meta[DTYPE], meta[NDIM], meta[SIZE] = dtype_code, len(shape), size
    meta[GPU], meta[DEVICE], meta[CREATOR], meta[MIRROR] = 0, -1, os.getpid(), 1
    meta[SHAPE:SHAPE + len(shape)] = shape
    del meta
    meta_map.close()
    lock_path(args["name"])
    print("created", flush=True)


def read(args):
    stream = Stream(args["name"])
    values = stream.safe_read()
    print(json.dumps({
        "shape": list(stream.shape),
        "dtype": NAMES[int(stream.meta[DTYPE])],
        "size": int(stream.meta[SIZE]),
        "count": int(stream.meta[COUNT]),
        "write_sequence": int(stream.meta[SEQUENCE]),
        "creator_pid": int(stream.meta[CREATOR]),
        "meta_bytes": len(stream.meta_map),
        "write_time": float(stream.meta[TIME]),
        "lock_owner_pid": int(stream.meta[OWNER]),
        "lock_depth": int(stream.meta[DEPTH]),
        "data_hex": values.tobytes().hex(),
        "values": [v if isinstance(v, (int, float)) else float(v) for v in values.ravel().tolist()],
    }), flush=True)


def write(args):
    stream = Stream(args["name"])
    if args.get("announce"):
        print("about to write", flush=True)
    stream.write(args["values"])
    print("written", flush=True)


def write_loop(args):
    stream = Stream(args["name"])
    if args.get("announce"):
        print("about to write", flush=True)
    for frame in range(1, args["count"] + 1):
        stream.write(np.full(stream.shape, frame))
        time.sleep(args.get("interval_ms", 0) / 1000)
    print("done", flush=True)


def attach(args):
    stream = Stream(args["name"])
    print("attached", flush=True)
    time.sleep(args["seconds"])
    stream.lock_file.close()  # the end of the handle; pyshmem may keep it open longer


def hold_lock(args):
    stream = Stream(args["name"])
    stream.acquire()
    print("locked", flush=True)
    time.sleep(args["seconds"])
    stream.release()
    print("released", flush=True)


def safe_read_loop(args):
    stream = Stream(args["name"])
    if "go" in args:
        print("ready", flush=True)
        while not os.path.exists(args["go"]):
            time.sleep(0.001)
    end = time.monotonic() + args["seconds"] if "seconds" in args else None
    reads = torn = changes = 0
    previous = None
    while reads < args["reads"] if end is None else time.monotonic() < end:
        snapshot = stream.safe_read()
        reads += 1
        first = snapshot.flat[0]
        if not np.all(snapshot == first):
            torn += 1
            continue
        if previous is not None and first != previous:
            changes += 1
        previous = first
    print(json.dumps({"reads": reads, "torn": torn, "changes": changes}), flush=True)


def unlink(args):
    base = base_name(args["name"])
    for path in ("/dev/shm/" + base, "/dev/shm/" + base + "_meta", "/dev/shm/" + base + "_gpu", lock_path(args["name"])):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    print("unlinked", flush=True)


def crash_mid_write(args):
    stream = Stream(args["name"])
    stream.acquire()
    stream.meta[SEQUENCE] += 1  # pyshmem's _mark_write_started: the write is now in progress
    flat = stream.data.reshape(-1)
    flat[: flat.size // 2] = args["fill"]
    print("odd", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def read_summary(args):
    stream = Stream(args["name"])
    values = stream.safe_read()
    print(json.dumps({
        "count": int(stream.meta[COUNT]),
        "write_sequence": int(stream.meta[SEQUENCE]),
        "length": int(values.size),
        "min": float(values.min()),
        "max": float(values.max()),
        "uniform": bool(np.all(values == values.flat[0])),
    }), flush=True)


def create_slowly(args):
    def pause(stage):
        if args["stage"] == stage:
            print("paused", flush=True)
            time.sleep(args["pause_ms"] / 1000)

    create(args, pause)


HANG_SLACK_S = 2.0


def line(text):
    os.write(1, (text + "\n").encode())  # one write(2): the line is in the pipe before the next step


def acquire_within(stream, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(stream.lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
    stream.meta[OWNER] = os.getpid()
    stream.meta[DEPTH] = 1
    return True


def report_hang(started, timeout_s):
    elapsed = time.monotonic() - started
    if elapsed > timeout_s + HANG_SLACK_S:
        line("s %d" % (elapsed * 1000))


def fault_writer(args):
    stream = Stream(args["name"])
    timeout_s = args["opTimeout"] / 1000
    frame = np.empty(stream.shape, dtype=stream.dtype)
    line("ready")
    k = 0
    while time.time() * 1000 < args["stopAt"]:
        k += 1
        started = time.monotonic()
        acquired = acquire_within(stream, timeout_s)
        report_hang(started, timeout_s)
        if not acquired:
            line("e ETIMEDOUT")
            continue
        try:
            line("i %d %d %d" % (k, int(stream.meta[COUNT]), int(stream.meta[SEQUENCE]) % 2))
            frame.fill(args["id"] * 1e9 + k)
            stream.meta[SEQUENCE] += 1  # pyshmem's write, under the lock we hold
            stream.data[...] = frame
            stream.meta[COUNT] += 1
            stream.meta[TIME] = time.time()
            stream.meta[SEQUENCE] += 1
            line("d %d" % k)
        finally:
            stream.release()
    line("end")


def fault_reader(args):
    stream = Stream(args["name"])
    timeout_s = args["opTimeout"] / 1000
    line("ready")
    reads = 0
    last_progress = time.monotonic()
    while time.time() * 1000 < args["stopAt"]:
        started = time.monotonic()
        snapshot = None
        while time.monotonic() - started < timeout_s:  # pyshmem's seqlock, bounded
            before = stream.meta[SEQUENCE]
            if int(before) % 2 == 1:
                continue
            copy = stream.data.copy()
            if stream.meta[SEQUENCE] == before:
                snapshot = copy
                break
        report_hang(started, timeout_s)
        if snapshot is None:
            line("e ERR_WRITE_INTERRUPTED")
            continue
        reads += 1
        first = snapshot.flat[0]
        if not np.all(snapshot == first):
            line("t " + " ".join(repr(float(v)) for v in np.unique(snapshot)[:4]))
        if time.monotonic() - last_progress > 0.2:
            line("r %d" % reads)
            last_progress = time.monotonic()
    line("r %d" % reads)
    line("end")


COMMANDS = {
    "create": create, "read": read, "write": write, "write-loop": write_loop,
    "hold-lock": hold_lock, "attach": attach, "safe-read-loop": safe_read_loop, "unlink": unlink,
    "crash-mid-write": crash_mid_write, "read-summary": read_summary, "create-slowly": create_slowly,
    "fault-writer": fault_writer, "fault-reader": fault_reader,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
