// Ring streams between Python (python/tsshmem, driven by
// test/peers/python_ring_peer.py) and Node: the same bytes on creation,
// lossless hand-over both ways, wakes both ways, back-pressure, peers killed
// mid-loan or holding a view, every dtype; and the Python unit tests.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { create, DTYPE_NAMES, open, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { peersDirectory, run, startNodePeer, startPythonPeer, streamName } from './helpers.js';

const repository = join(dirname(fileURLToPath(import.meta.url)), '..');
const pythonEnv = { PYTHONPATH: join(repository, 'python') };
const CREATOR_PID = [56, 64];

/**
 * Runs python_ring_peer.py COMMAND; killed with SIGKILL after the test if
 * still running. pidNamespace: in a new pid namespace (unshare, as root),
 * sharing /dev/shm and the lock directory.
 */
function startPy(t, command, args, { pidNamespace = false, ...options } = {}) {
  const python = ['python3', join(peersDirectory, 'python_ring_peer.py'), command, JSON.stringify(args)];
  const [program, ...programArgs] = pidNamespace ? ['unshare', '--pid', '--kill-child=SIGKILL', ...python] : python;
  const peer = run(program, programArgs, { timeout: 60000, ...options, env: pythonEnv });
  t.after(async () => {
    if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL');
    await peer.done;
  });
  return peer;
}

/** Waits for the peer's exit 0 and returns its last stdout line parsed as JSON. */
async function result(peer) {
  const { code, stdout, stderr } = await peer.done;
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

function ring(t, label, options) {
  const name = streamName(t, label);
  const stream = create(name, { shape: [64], dtype: 'int32', ...options });
  t.after(() => stream.close());
  return { name, stream };
}

/** Polls a condition on shared state (another process's progress), every millisecond. */
async function until(condition, what, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(1);
  }
}

/** The wake slots (format.md Part 2) as {pid, state}, read from the metadata object. */
function wakeSlots(name) {
  const meta = readFileSync(`/dev/shm/${baseName(name)}_meta`);
  return Array.from({ length: 64 }, (_, slot) => ({ pid: meta.readUInt32LE(288 + 16 * slot), state: meta.readUInt32LE(288 + 16 * slot + 8) }));
}

/** next() until frame `count`; frame n holds n everywhere; returns how many frames were seen. */
async function consume(reader, count) {
  let seen = 0;
  let last = reader.lastReadCount;
  while (last < count) {
    const frame = await reader.next({ timeout: 20000 });
    assert.ok(frame[0] > last && frame.every((value) => value === frame[0]), `frame ${frame[0]} after ${last}, whole`);
    assert.equal(reader.lastReadCount, frame[0]);
    last = frame[0];
    seen++;
  }
  return seen;
}

test('a ring stream created by Python is byte for byte the one Node creates (but the creator pid), and opens in Node', { timeout: 60000 }, async (t) => {
  const layouts = [
    { shape: [3, 5], dtype: 'float16', history: 7, overflow: 'block', pyshmemFrame: true },
    { shape: [1000], dtype: 'uint64', history: 2, overflow: 'overwrite', pyshmemFrame: false },
    { shape: [480, 640], dtype: 'uint16', history: 64, overflow: 'overwrite', pyshmemFrame: true },
  ];
  for (const layout of layouts) {
    const name = streamName(t, 'identical');
    const base = baseName(name);
    const objects = () => [readFileSync(`/dev/shm/${base}_meta`), readFileSync(`/dev/shm/${base}`)];
    create(name, layout).close();
    const [nodeMeta, nodeData] = objects();
    unlink(name);
    const { overflow, history, shape, dtype, pyshmemFrame } = layout;
    const created = startPy(t, 'create', { name, shape, dtype, history, overflow, pyshmem_frame: pyshmemFrame });
    assert.equal((await created.done).code, 0);
    const [pythonMeta, pythonData] = objects();
    assert.equal(pythonMeta.length, nodeMeta.length);
    for (const bytes of [nodeMeta, pythonMeta]) bytes.fill(0, ...CREATOR_PID);
    assert.ok(pythonMeta.equals(nodeMeta), `metadata objects differ for ${JSON.stringify(layout)}`);
    assert.ok(pythonData.equals(nodeData), 'data objects differ');
    const opened = open(name);
    assert.deepEqual([opened.history, opened.overflow, opened.pyshmemFrame, opened.shape, opened.dtype], [history, overflow, pyshmemFrame, shape, dtype]);
    opened.close();
  }
});

for (const via of ['loan', 'write']) {
  test(`Python writer (${via}) to a Node next() reader: 20,000 frames at 2 kHz for 10 s, delivered == written, none missed`, { timeout: 120000 }, async (t) => {
    const count = 20000;
    const { name, stream: reader } = ring(t, 'py-to-node', { history: 64, overflow: 'block' });
    assert.equal(reader.register(), true);
    const producer = startPy(t, 'produce', { name, count, rate_hz: 2000, via });
    assert.equal(await consume(reader, count), count);
    assert.equal(reader.totalMissedWrites, 0);
    const { written, seconds } = await result(producer);
    assert.equal(written, count);
    t.diagnostic(`informal: ${count} frames in ${seconds.toFixed(2)} s`);
  });
}

test('Node writer to a Python next() reader: 20,000 frames at 2 kHz for 10 s, delivered == written, none missed', { timeout: 120000 }, async (t) => {
  const count = 20000;
  const { name, stream: writer } = ring(t, 'node-to-py', { history: 64, overflow: 'block' });
  const consumer = startPy(t, 'consume', { name, count });
  await consumer.lines.waitFor('ready', 20000);
  const frame = new Int32Array(64);
  const start = performance.now();
  for (let n = 1; n <= count; n++) {
    const due = start + (n - 1) / 2; // 2 frames per millisecond
    if (due > performance.now()) await delay(due - performance.now());
    await writer.writeAsync(frame.fill(n), { timeout: 20000 });
  }
  assert.deepEqual(await result(consumer), { seen: count, missed: 0, in_order: true, whole: true });
});

for (const view of [false, true]) {
  test(`overflow 'block': a Python ${view ? 'next_view()' : 'next()'} reader slower than a flooding Node writer loses nothing`, { timeout: 120000 }, async (t) => {
    const count = 1000;
    const { name } = ring(t, 'slow-py', { history: 8, overflow: 'block' });
    const consumer = startPy(t, 'consume', { name, count, slow_ms: 1, view });
    await consumer.lines.waitFor('ready', 20000);
    const producer = startNodePeer(t, 'ring-peer.js', { command: 'produce', name, count });
    assert.deepEqual(await result(consumer), { seen: count, missed: 0, in_order: true, whole: true });
    assert.equal((await producer.done).code, 0);
  });
}

test('a Python write wakes a Node reader awaiting next() through its wake socket', { timeout: 60000 }, async (t) => {
  const { name, stream: reader } = ring(t, 'wake-node', { history: 4 });
  const writer = startPy(t, 'write-one', { name, value: 7 });
  await writer.lines.waitFor('opened', 20000);
  const frame = reader.next({ timeout: 20000 });
  await until(() => wakeSlots(name).some((slot) => slot.pid === process.pid && slot.state === 1), 'the reader to wait (slot WAITING)');
  writer.child.stdin.write('go\n');
  assert.equal((await frame)[0], 7);
  const { wakes } = await result(writer);
  assert.equal(wakes.datagrams, 1, 'one datagram, to the waiting reader');
});

test('a Node write wakes a Python reader sleeping in futex(2) (sleeps of 60 s: only a FUTEX_WAKE ends one early)', { timeout: 60000 }, async (t) => {
  const { name, stream: writer } = ring(t, 'wake-py', { history: 4 });
  const sleeper = startPy(t, 'wait-one', { name, timeout: 50 });
  await sleeper.lines.waitFor('waiting', 20000);
  const pid = sleeper.child.pid;
  await until(
    () => wakeSlots(name).some((slot) => slot.pid === pid && slot.state === 2) && readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('202 '),
    'the Python reader to sleep in futex(2) with a SLEEPING slot',
  );
  writer.write(new Int32Array(64).fill(5));
  assert.deepEqual(JSON.parse(await sleeper.lines.waitFor(/^\{/, 20000)), { count: 1, value: 5 });
});

test('a Python process SIGKILLed mid-loan: the kernel frees the lock, Node writers go on, readers never see its frame', { timeout: 60000 }, async (t) => {
  const { name, stream: writer } = ring(t, 'kill-loan', { history: 4, overflow: 'block' });
  const reader = open(name);
  t.after(() => reader.close());
  reader.register();
  const loaner = startPy(t, 'loan-hang', { name, value: 999 });
  await loaner.lines.waitFor('loaned', 20000);
  loaner.child.kill('SIGKILL');
  await loaner.done;
  for (let n = 1; n <= 12; n++) {
    writer.write(new Int32Array(64).fill(n), { timeout: 5000 });
    const frame = await reader.next({ timeout: 5000 });
    assert.equal(frame[0], n);
  }
  assert.equal(reader.totalMissedWrites, 0);
});

test('a Python process SIGKILLed holding a view: Node writers go on past the held slot (block mode reaps it), Node readers are unaffected', { timeout: 60000 }, async (t) => {
  const { name, stream: writer } = ring(t, 'kill-view', { history: 4, overflow: 'block' });
  const reader = open(name);
  t.after(() => reader.close());
  reader.register();
  const holder = startPy(t, 'hold-view', { name });
  await holder.lines.waitFor('ready', 20000);
  writer.write(new Int32Array(64).fill(1));
  assert.equal(await holder.lines.waitFor(/^holding/, 20000), 'holding 1');
  assert.equal((await reader.next({ timeout: 5000 }))[0], 1);
  holder.child.kill('SIGKILL');
  await holder.done;
  for (let n = 2; n <= 20; n++) {
    writer.write(new Int32Array(64).fill(n), { timeout: 5000 });
    assert.equal((await reader.next({ timeout: 5000 }))[0], n);
  }
  assert.equal(reader.totalMissedWrites, 0);
  assert.deepEqual(writer.ringStatus().readers.map((entry) => entry.pid), [process.pid]);
});

test('a Python writer in another pid namespace neither drops a live Node reader nor overwrites the slot its sample holds', { timeout: 60000 }, async (t) => {
  const { name, stream: writer } = ring(t, 'other-pid-namespace', { history: 2 });
  const reader = open(name);
  t.after(() => reader.close());
  writer.write(new Int32Array(64).fill(1));
  const sample = await reader.nextSample({ timeout: 5000 });
  const producer = startPy(t, 'produce', { name, count: 20, rate_hz: 0 }, { pidNamespace: true });
  assert.equal((await result(producer)).written, 20);
  assert.equal(writer.count, 21);
  assert.ok(sample.array.every((value) => value === 1), `the held sample still holds frame 1, not ${sample.array[0]}`);
  assert.deepEqual(writer.ringStatus().readers.map((entry) => entry.pid), [process.pid], 'the reader is still registered');
  sample.release();
});

test('every dtype (11), both ways: random frames cross Python <-> Node byte for byte, none missed', { timeout: 120000 }, async (t) => {
  const frames = 3;
  const streams = DTYPE_NAMES.map((dtype) => {
    const name = streamName(t, `dtype-${dtype}`);
    const stream = create(name, { shape: [2, 5], dtype, history: 4 });
    const reader = open(name);
    t.after(() => [stream, reader].forEach((handle) => handle.close()));
    const random = () => Array.from({ length: frames }, () => randomBytes(stream.size));
    return { dtype, name, stream, reader, toPython: random(), fromPython: random().map((bytes) => bytes.toString('hex')) };
  });
  const pythonReader = startPy(t, 'read-values', { streams: streams.map(({ name }) => ({ name, frames })) });
  await pythonReader.lines.waitFor('ready', 30000);
  for (const { stream, toPython } of streams) {
    const ArrayType = stream.read().constructor;
    for (const bytes of toPython) stream.write(new ArrayType(bytes.buffer, bytes.byteOffset, stream.size / ArrayType.BYTES_PER_ELEMENT));
  }
  const seen = await result(pythonReader);
  for (const { dtype, name, toPython } of streams) {
    assert.deepEqual(seen[name], { frames: toPython.map((bytes) => bytes.toString('hex')), missed: 0 }, `${dtype} Node -> Python`);
  }

  for (const { reader } of streams) {
    reader.read(); // past Node's own frames
    reader.register();
  }
  const pythonWriter = startPy(t, 'write-values', { streams: streams.map(({ name, fromPython }) => ({ name, frames: fromPython })) });
  for (const { dtype, reader, fromPython } of streams) {
    for (const expected of fromPython) {
      const frame = await reader.next({ timeout: 30000 });
      assert.equal(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('hex'), expected, `${dtype} Python -> Node`);
      assert.equal(reader.missedWrites, 0);
    }
  }
  assert.equal((await pythonWriter.done).code, 0);
});

test('pyshmem reads the newest frame of a stream Python writes; Python refuses a plain pyshmem stream, pointing to pyshmem', { timeout: 60000 }, async (t) => {
  const { name } = ring(t, 'pyshmem-reads', { history: 8 });
  await result(startPy(t, 'produce', { name, count: 20 }));
  const { code, stdout, stderr } = await startPythonPeer(t, 'read', { name }).done;
  assert.equal(code, 0, stderr);
  const seen = JSON.parse(stdout);
  assert.equal(seen.count, 20);
  assert.deepEqual(seen.values, new Array(64).fill(20));

  const plain = streamName(t, 'plain');
  assert.equal((await startPythonPeer(t, 'create', { name: plain, shape: [4], dtype: 'float32' }).done).code, 0);
  const refused = await result(startPy(t, 'open', { name: plain }));
  assert.equal(refused.code, 'ERR_NOT_RING');
  assert.match(refused.message, /plain pyshmem stream.*pyshmem/);
});

test('the Python unit tests (python/tests) pass', { timeout: 180000 }, async () => {
  const { code, stdout, stderr } = await run('python3', ['-m', 'unittest', 'discover', '-s', join(repository, 'python', 'tests')], { env: pythonEnv, timeout: 170000 }).done;
  assert.equal(code, 0, stdout + stderr);
});
