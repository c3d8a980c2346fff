// With test/peers/pyshmem_peer.py, a Python peer that speaks the pyshmem
// 1.0.2 format (docs/format.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { create, DTYPE_NAMES, open, unlink } from '../packages/tsshmem/dist/index.js';
import { leftovers, runPythonPeer, startNodePeer, startPythonPeer, streamName, waitForSyscall } from './helpers.js';

const Float16 = globalThis.Float16Array ?? Uint16Array;

/**
 * Six values per dtype, extremes included: `json` as the Python peer takes
 * them (64-bit integers as strings, which numpy parses exactly), `typed` as
 * the stream holds them (float16 as IEEE half bits).
 */
const VALUES = {
  int8: { json: [-128, 127, 0, -1, 1, 42], typed: Int8Array },
  int16: { json: [-32768, 32767, 0, -1, 1, 42], typed: Int16Array },
  int32: { json: [-2147483648, 2147483647, 0, -1, 1, 42], typed: Int32Array },
  int64: { json: ['-9223372036854775808', '9223372036854775807', '0', '-1', '9007199254740993', '42'], typed: BigInt64Array },
  uint8: { json: [0, 255, 1, 128, 7, 42], typed: Uint8Array },
  uint16: { json: [0, 65535, 1, 32768, 7, 42], typed: Uint16Array },
  uint32: { json: [0, 4294967295, 1, 2147483648, 7, 42], typed: Uint32Array },
  uint64: { json: ['0', '18446744073709551615', '1', '9223372036854775808', '9007199254740993', '42'], typed: BigUint64Array },
  float16: { json: [1.5, -2, 65504, 2 ** -24, 0.5, -0.25], bits: [0x3e00, 0xc000, 0x7bff, 0x0001, 0x3800, 0xb400] },
  float32: { json: [1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, -1e-3, 7], typed: Float32Array },
  float64: { json: [Number.MAX_VALUE, Number.MIN_VALUE, 0.1, -1e300, Math.PI, -7], typed: Float64Array },
};

/** The frame of VALUES[dtype], reversed if asked, as the stream's TypedArray. */
function frameOf(dtype, { reversed = false } = {}) {
  const { json, typed, bits } = VALUES[dtype];
  const order = (list) => (reversed ? [...list].reverse() : list);
  if (dtype === 'float16') return new Float16(Uint16Array.from(order(bits)).buffer);
  return typed.from(order(json), (value) => (typeof value === 'string' ? BigInt(value) : value));
}

function isUniform(frame) {
  return frame.every((element) => element === frame[0]);
}

function hexOf(array) {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('hex');
}

async function python(command, args, timeout = 30000) {
  const { code, stdout, stderr } = await runPythonPeer(command, args, { timeout }).done;
  assert.equal(code, 0, `pyshmem_peer.py ${command}: ${stderr}`);
  return stdout.trim();
}

async function pythonRead(name) {
  return JSON.parse(await python('read', { name }));
}

test('Node creates and writes; Python reads every dtype byte for byte and writes back', { timeout: 120000 }, async (t) => {
  for (const dtype of DTYPE_NAMES) {
    const name = streamName(t, `node-first-${dtype}`);
    const stream = create(name, { shape: [2, 3], dtype });
    stream.write(frameOf(dtype));

    const seen = await pythonRead(name);
    assert.equal(seen.dtype, dtype);
    assert.deepEqual(seen.shape, [2, 3]);
    assert.equal(seen.size, stream.size);
    assert.equal(seen.count, 1);
    assert.equal(seen.write_sequence, 2);
    assert.equal(seen.creator_pid, process.pid);
    assert.equal(seen.data_hex, hexOf(frameOf(dtype)), dtype);

    assert.equal(await python('write', { name, values: [...VALUES[dtype].json].reverse() }), 'written');
    assert.equal(stream.count, 2, dtype);
    assert.equal(hexOf(stream.read()), hexOf(frameOf(dtype, { reversed: true })), dtype);
    stream.close();
  }
});

test('Python creates and writes; Node reads every dtype and writes back what Python reads byte for byte', { timeout: 180000 }, async (t) => {
  for (const dtype of DTYPE_NAMES) {
    const name = streamName(t, `python-first-${dtype}`);
    assert.equal(await python('create', { name, shape: [3, 2], dtype }), 'created');
    assert.equal(await python('write', { name, values: VALUES[dtype].json }), 'written');

    const stream = open(name);
    assert.equal(stream.dtype, dtype);
    assert.deepEqual(stream.shape, [3, 2]);
    assert.equal(stream.size, 6 * frameOf(dtype).BYTES_PER_ELEMENT);
    assert.equal(stream.owner, false);
    assert.equal(stream.count, 1);
    const frame = stream.read();
    assert.equal(frame.constructor, frameOf(dtype).constructor, dtype);
    assert.equal(hexOf(frame), hexOf(frameOf(dtype)), dtype);

    stream.write(frameOf(dtype, { reversed: true }));
    const seen = await pythonRead(name);
    assert.equal(seen.count, 2);
    assert.equal(seen.write_sequence, 4);
    assert.equal(seen.lock_owner_pid, 0);
    assert.equal(seen.lock_depth, 0);
    assert.equal(seen.data_hex, hexOf(frameOf(dtype, { reversed: true })), dtype);
    stream.close();
  }
});

test('readNew() on a pyshmem-created stream resolves with a write by Python', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'python-readnew');
  await python('create', { name, shape: [4], dtype: 'float64' });
  const stream = open(name);
  const next = stream.readNew({ timeout: 30000 });
  await python('write', { name, values: [1, 2, 3, 4] });
  assert.deepEqual(await next, Float64Array.of(1, 2, 3, 4));
  stream.close();
});

test('a Python write waits while Node holds the lock', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'python-waits');
  const stream = create(name, { shape: [2], dtype: 'int32' });
  await stream.acquire();
  const writer = startPythonPeer(t, 'write', { name, values: [5, 6], announce: true }, { timeout: 30000 });
  await writer.lines.waitFor('about to write', 20000);
  // pyshmem's write blocks in flock(LOCK_EX).
  await waitForSyscall(writer, ['flock']);
  assert.equal(stream.count, 0, 'Python wrote while Node held the lock');
  stream.release();
  assert.equal((await writer.done).code, 0);
  assert.equal(stream.count, 1);
  assert.deepEqual(stream.read(), Int32Array.of(5, 6));
  stream.close();
});

test('Node and Python writers serialize on the same lock: interleaved, whole frames, no write lost', { timeout: 120000 }, async (t) => {
  const name = streamName(t, 'serialize');
  const stream = create(name, { shape: [256], dtype: 'float64' });
  const frames = 1000;
  const nodeOffset = 10000;
  await stream.acquire();
  const pythonWriter = startPythonPeer(t, 'write-loop', { name, count: frames, interval_ms: 1, announce: true }, { timeout: 100000 });
  const nodeWriter = startNodePeer(t, 'constant-writer.js', { name, frames, offset: nodeOffset, pauseMs: 1, announce: true }, { timeout: 100000 });
  // Both writers are in their first write's lock wait before the lock is
  // released: they start writing together, so the run exercises contention.
  await pythonWriter.lines.waitFor('about to write', 20000);
  await waitForSyscall(pythonWriter, ['flock'], { what: "the Python writer's flock" });
  await nodeWriter.lines.waitFor('about to write', 20000);
  await waitForSyscall(nodeWriter, ['flock', 'nanosleep', 'clock_nanosleep'], { what: "the Node writer's lock wait" });
  assert.equal(stream.count, 0);
  stream.release();

  const writers = [];
  let torn = 0;
  let running = 2;
  for (const writer of [pythonWriter, nodeWriter]) void writer.done.then(() => running--);
  while (running > 0) {
    const frame = stream.read();
    if (!isUniform(frame)) torn++;
    if (frame[0] !== 0) writers.push(frame[0] > nodeOffset ? 'node' : 'python');
    await delay(1);
  }
  const [fromPython, fromNode] = await Promise.all([pythonWriter.done, nodeWriter.done]);
  assert.equal(fromPython.code, 0, fromPython.stderr);
  assert.equal(fromNode.code, 0, fromNode.stderr);
  assert.equal(torn, 0);
  const switches = writers.filter((writer, i) => i > 0 && writer !== writers[i - 1]).length;
  assert.ok(switches >= 2, `the writers did not interleave (${switches} switches in ${writers.length} samples)`);
  assert.equal(stream.count, 2 * frames);
  assert.equal(stream.writeSequence, 4 * frames);
  stream.close();
});

test('a Python lock holder blocks a Node acquire until it releases', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'python-holds');
  const stream = create(name, { shape: [1] });
  const holder = startPythonPeer(t, 'hold-lock', { name, seconds: 1.5 }, { timeout: 30000 });
  await holder.lines.waitFor('locked', 20000);
  const lockedAt = performance.now();

  await assert.rejects(stream.acquire({ timeout: 200 }), (error) => {
    assert.equal(error.code, 'ETIMEDOUT');
    assert.ok(error.message.includes(`pid ${holder.child.pid}`), error.message);
    return true;
  });
  await stream.acquire({ timeout: 20000 });
  const waited = performance.now() - lockedAt;
  assert.ok(waited >= 1000, `acquired ${waited} ms after Python took the lock for 1500 ms`);
  stream.write([1]);
  stream.release();
  assert.equal((await holder.done).code, 0);
  stream.close();
});

test('Python safe reads see only whole frames while a Node process writes as fast as it can', { timeout: 120000 }, async (t) => {
  const name = streamName(t, 'python-torn');
  const stream = create(name, { shape: [4096], dtype: 'float64' });
  const writer = startNodePeer(t, 'constant-writer.js', { name }, { timeout: 110000 });
  await writer.lines.waitFor('writing', 20000);
  const countBefore = stream.count;

  const { reads, torn } = JSON.parse(await python('safe-read-loop', { name, reads: 10000 }, 100000));
  const written = stream.count - countBefore;
  writer.child.kill('SIGKILL');
  await writer.done;
  assert.equal(reads, 10000);
  assert.equal(torn, 0, `${torn} of ${reads} Python snapshots mixed two frames`);
  assert.ok(written > 0, 'the Node writer published nothing while Python read');
  stream.close();
});

test("each side's unlink removes the other's stream entirely", { timeout: 60000 }, async (t) => {
  const fromPython = streamName(t, 'unlink-python-made');
  await python('create', { name: fromPython, shape: [2], dtype: 'int8' });
  open(fromPython).close();
  assert.equal(leftovers(fromPython).length, 3);
  assert.equal(unlink(fromPython), true);
  assert.deepEqual(leftovers(fromPython), []);

  const fromNode = streamName(t, 'unlink-node-made');
  create(fromNode, { shape: [2], dtype: 'int8' }).close();
  assert.equal(await python('unlink', { name: fromNode }), 'unlinked');
  assert.deepEqual(leftovers(fromNode), []);
});
