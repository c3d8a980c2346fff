#!/usr/bin/env python3
"""A Python peer on ring streams, using python/tsshmem (run with PYTHONPATH=python),
for test/48-python-ring.test.js and the bench. Prints a handshake line when it reaches
the state the test wants.

Usage: python_ring_peer.py COMMAND 'JSON-ARGUMENTS'
  create    {name, shape, dtype, history, overflow, pyshmem_frame}  creates the stream, closes it
  produce   {name, count, rate_hz, via}   frames 1..count (every element = n, cast to the dtype), paced at
                                          rate_hz (0: flat out) on an absolute schedule, with write()
                                          or loan() (via: "loan"); prints {written, seconds}
  consume   {name, count, slow_ms, view, timeout}  registers, prints "ready", next() (or next_view())
                                          until last_count == count, sleeping slow_ms per frame;
                                          prints {seen, missed, in_order, whole}
  write-one {name, value}                 prints "opened"; on a line "go" on stdin writes one frame and
                                          prints {wakes: {datagrams, sleepers}}
  wait-one  {name, timeout}               registers, prints "waiting", next() with 60 s futex slices
                                          (only a FUTEX_WAKE can end a sleep early), prints {count, value}
  write-values {streams: [{name, frames}]}  writes each hex-encoded frame to its stream; prints "written"
  read-values  {streams: [{name, frames}]} opens and registers every stream, prints "ready", then next()
                                          `frames` times on each; prints {name: {frames (hex), missed}}
  hold-view {name}                        registers, prints "ready", takes one next_view(), prints
                                          "holding <count>" and sleeps (to be SIGKILLed)
  loan-hang {name, value}                 loans a slot, fills it, prints "loaned" and sleeps
  open      {name}                        opens; prints "opened" or {code, message}
"""
import json
import sys
import time

import numpy as np

import tsshmem
from tsshmem import _ring

command, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}


def emit(value):
    print(value if isinstance(value, str) else json.dumps(value), flush=True)


def sleep_forever():
    while True:
        time.sleep(3600)


def produce(stream):
    count, rate, via = args['count'], args.get('rate_hz', 0), args.get('via', 'write')
    frame = np.empty(stream.shape, stream.dtype)
    start = time.monotonic()
    for n in range(1, count + 1):
        if rate:
            due = start + (n - 1) / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        if via == 'loan':
            with stream.loan(timeout=30) as slot:
                slot.array[...] = n
                slot.publish()
        else:
            frame[...] = n
            stream.write(frame, timeout=30)
    emit({'written': count, 'seconds': time.monotonic() - start})


def consume(stream):
    stream.register()
    emit('ready')
    seen, last, in_order, whole = 0, stream.last_count, True, True
    slow = args.get('slow_ms', 0) / 1000
    while last < args['count']:
        if args.get('view'):
            with stream.next_view(timeout=args.get('timeout', 30)) as view:
                value = view.array.flat[0]
                whole &= bool((view.array == value).all())
        else:
            frame = stream.next(timeout=args.get('timeout', 30))
            value = frame.flat[0]
            whole &= bool((frame == value).all())
        in_order &= stream.last_count > last and int(value) == stream.last_count
        last = stream.last_count
        seen += 1
        if slow:
            time.sleep(slow)
    emit({'seen': seen, 'missed': stream.total_missed, 'in_order': in_order, 'whole': whole})


def main():
    if command == 'create':
        tsshmem.create(args['name'], args['shape'], args['dtype'], history=args['history'], overflow=args.get('overflow', 'overwrite'),
                       pyshmem_frame=args.get('pyshmem_frame', True)).close()
        emit('created')
        return
    if command == 'open':
        try:
            tsshmem.open(args['name']).close()
            emit('opened')
        except tsshmem.TsshmemError as error:
            emit({'code': error.code, 'message': str(error)})
        return
    if command == 'write-values':
        for entry in args['streams']:
            with tsshmem.open(entry['name']) as stream:
                for encoded in entry['frames']:
                    stream.write(np.frombuffer(bytes.fromhex(encoded), stream.dtype).reshape(stream.shape))
        emit('written')
        return
    if command == 'read-values':
        streams = {entry['name']: tsshmem.open(entry['name']) for entry in args['streams']}
        for stream in streams.values():
            stream.register()
        emit('ready')
        seen = {}
        for entry in args['streams']:
            stream = streams[entry['name']]
            frames = [stream.next(timeout=30).tobytes().hex() for _ in range(entry['frames'])]
            seen[entry['name']] = {'frames': frames, 'missed': stream.total_missed}
            stream.close()
        emit(seen)
        return
    with tsshmem.open(args['name']) as stream:
        if command == 'produce':
            produce(stream)
        elif command == 'consume':
            consume(stream)
        elif command == 'write-one':
            emit('opened')
            sys.stdin.readline()
            stream._wake.last_wakes = None
            frame = np.full(stream.shape, args['value'], stream.dtype)
            with stream.loan() as slot:
                slot.array[...] = frame
                slot.publish()
            emit({'wakes': stream._wake.last_wakes})
        elif command == 'wait-one':
            _ring._WAIT_SLICE = 60.0
            stream.register()
            emit('waiting')
            frame = stream.next(timeout=args.get('timeout', 30))
            emit({'count': stream.last_count, 'value': frame.flat[0].item()})
        elif command == 'hold-view':
            stream.register()
            emit('ready')
            view = stream.next_view(timeout=30)
            emit(f'holding {view.count}')
            sleep_forever()
        elif command == 'loan-hang':
            slot = stream.loan()
            slot.array[...] = args['value']
            emit('loaned')
            sleep_forever()
        else:
            raise SystemExit(f'unknown command {command}')


main()
