import assert from 'node:assert/strict';
import { constants as bufferConstants } from 'node:buffer';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { create, DTYPE_NAMES, open } from '../packages/tsshmem/dist/index.js';
import { settledTracker, startNodePeer, streamName } from './helpers.js';

const Float16 = globalThis.Float16Array ?? Uint16Array;

/** Six values per dtype, the extremes of each included; float16 as raw bits. */
const FRAMES = {
  int8: Int8Array.of(-128, 127, 0, -1, 1, 42),
  int16: Int16Array.of(-32768, 32767, 0, -1, 1, 42),
  int32: Int32Array.of(-2147483648, 2147483647, 0, -1, 1, 42),
  int64: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, 42n),
  uint8: Uint8Array.of(0, 255, 1, 128, 7, 42),
  uint16: Uint16Array.of(0, 65535, 1, 32768, 7, 42),
  uint32: Uint32Array.of(0, 4294967295, 1, 2147483648, 7, 42),
  uint64: BigUint64Array.of(0n, 2n ** 64n - 1n, 1n, 2n ** 63n, 2n ** 53n + 1n, 42n),
  float16: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000),
  float32: Float32Array.of(1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, Math.fround(0.1), -Infinity),
  float64: Float64Array.of(Number.MAX_VALUE, Number.MIN_VALUE, 0.1, -1e300, Math.PI, Infinity),
};

const ARRAY_TYPES = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float16: Float16,
  float32: Float32Array,
  float64: Float64Array,
};

function bitsOf(array) {
  return new Uint16Array(array.buffer, array.byteOffset, array.length);
}

/** Writes value to a new stream of dtype and shape and returns what read() gives back. */
function roundTrip(t, dtype, shape, value) {
  const stream = create(streamName(t, `convert-${dtype}`), { shape, dtype });
  stream.write(value);
  const result = stream.read();
  stream.close();
  return result;
}

/** The count, write sequence, write time and payload of a stream, to prove a failed write changed nothing. */
function stateOf(stream) {
  return { count: stream.count, writeSequence: stream.writeSequence, writeTime: stream.writeTime, payload: stream.read() };
}

function isUniform(frame) {
  const first = frame[0];
  for (let i = 1; i < frame.length; i++) if (frame[i] !== first) return false;
  return true;
}

test('write() then read() round-trips a frame of every dtype, extremes included', (t) => {
  assert.deepEqual([...DTYPE_NAMES].sort(), Object.keys(FRAMES).sort());
  for (const dtype of DTYPE_NAMES) {
    const stream = create(streamName(t, `roundtrip-${dtype}`), { shape: [2, 3], dtype });
    const frame = dtype === 'float16' ? new Float16(FRAMES.float16.buffer) : FRAMES[dtype];
    stream.write(frame);
    const result = stream.read();
    assert.equal(result.constructor, ARRAY_TYPES[dtype], dtype);
    assert.equal(result.length, 6, dtype);
    assert.deepEqual(new Uint8Array(result.buffer, result.byteOffset, 6 * ARRAY_TYPES[dtype].BYTES_PER_ELEMENT), new Uint8Array(frame.buffer), dtype);
    stream.close();
  }
});

test('float16 reads as IEEE half-precision bits (a Uint16Array where Float16Array is missing)', (t) => {
  const result = roundTrip(t, 'float16', [7], [1, -2, 0.5, 65504, Infinity, NaN, -0]);
  assert.ok(result instanceof Float16);
  assert.deepEqual(Array.from(bitsOf(result)), [0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00, 0x7e00, 0x8000]);
});

test('float16 takes a Uint16Array as raw half bits, byte for byte, on every runtime (plain and ring streams, offset views)', (t) => {
  // 1, -2, the largest half, the smallest subnormal, ±infinity, -0 and a NaN
  // with a payload, which a numeric round trip would not keep.
  const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x8000, 0x7e01);
  const atOffset = new Uint16Array(bits.length + 1).fill(0xffff);
  atOffset.set(bits, 1);
  const inputs = { plain: bits, offsetView: atOffset.subarray(1) };
  for (const [label, history] of [['plain', undefined], ['ring', 4]]) {
    for (const [inputLabel, input] of Object.entries(inputs)) {
      const stream = create(streamName(t, `f16-bits-${label}`), { shape: [bits.length], dtype: 'float16', ...(history && { history }) });
      stream.write(input);
      const result = stream.read();
      stream.close();
      assert.equal(result.constructor, Float16, `${label} ${inputLabel}`);
      assert.deepEqual(new Uint8Array(result.buffer, result.byteOffset, result.byteLength), new Uint8Array(bits.buffer), `${label} ${inputLabel}`);
    }
  }
});

test('float16 takes a Float16Array as values where the runtime has one', { skip: globalThis.Float16Array === undefined && 'no Float16Array on this runtime' }, (t) => {
  const values = Float16Array.of(1, -2, 0.5, 65504, -0, Infinity);
  const result = roundTrip(t, 'float16', [values.length], values);
  assert.ok(result instanceof Float16Array);
  assert.deepEqual(Array.from(result), Array.from(values));
  assert.deepEqual(Array.from(bitsOf(result)), [0x3c00, 0xc000, 0x3800, 0x7bff, 0x8000, 0x7c00]);
});

test('read() returns a snapshot: changing it leaves the stream as written', (t) => {
  const stream = create(streamName(t, 'snapshot'), { shape: [3], dtype: 'int32' });
  stream.write([1, 2, 3]);
  const first = stream.read();
  first.fill(9);
  assert.deepEqual(stream.read(), Int32Array.of(1, 2, 3));
  assert.notEqual(stream.read().buffer, stream.read().buffer);
  stream.close();
});

test("read({ out }) copies into the caller's array and returns that same array", (t) => {
  const stream = create(streamName(t, 'out'), { shape: [2, 2], dtype: 'float64' });
  const out = new Float64Array(4);
  const buffer = out.buffer;
  stream.write([1, 2, 3, 4]);
  assert.equal(stream.read({ out }), out);
  assert.deepEqual(out, Float64Array.of(1, 2, 3, 4));
  stream.write([5, 6, 7, 8]);
  assert.equal(stream.read({ out }), out);
  assert.equal(out.buffer, buffer);
  assert.deepEqual(out, Float64Array.of(5, 6, 7, 8));
  stream.close();
});

test('read({ out }) refuses an array of another type or length and leaves it untouched', (t) => {
  const stream = create(streamName(t, 'out-bad'), { shape: [4], dtype: 'float32' });
  stream.write([1, 2, 3, 4]);
  for (const out of [new Float64Array(4), new Float32Array(3), new Float32Array(5), new Uint8Array(16), [0, 0, 0, 0]]) {
    const before = Array.from(out);
    assert.throws(() => stream.read({ out }), (error) => {
      assert.equal(error.code, 'ERR_INVALID_ARG_TYPE');
      assert.match(error.message, /Float32Array of 4 elements/);
      return true;
    });
    assert.deepEqual(Array.from(out), before);
  }
  stream.close();
});

test("write() converts other TypedArrays like numpy's astype", (t) => {
  assert.deepEqual(roundTrip(t, 'int32', [6], Float64Array.of(1.7, -1.7, 2.5, -2.5, 100.9, -100.9)), Int32Array.of(1, -1, 2, -2, 100, -100));
  assert.deepEqual(roundTrip(t, 'uint8', [6], Int32Array.of(300, -1, 255, 256, 0, -256)), Uint8Array.of(44, 255, 255, 0, 0, 0));
  assert.deepEqual(roundTrip(t, 'uint64', [2], BigInt64Array.of(-1n, 5n)), BigUint64Array.of(2n ** 64n - 1n, 5n));
  assert.deepEqual(roundTrip(t, 'int64', [3], Uint8Array.of(0, 200, 255)), BigInt64Array.of(0n, 200n, 255n));
  assert.deepEqual(roundTrip(t, 'float32', [2], Int32Array.of(16777217, -3)), Float32Array.of(16777216, -3));
  assert.deepEqual(roundTrip(t, 'float64', [2], Float32Array.of(0.1, -2.5)), Float64Array.of(Math.fround(0.1), -2.5));
  assert.deepEqual(roundTrip(t, 'float64', [2], BigUint64Array.of(2n ** 64n - 1n, 3n)), Float64Array.of(2 ** 64, 3));
  assert.deepEqual(Array.from(bitsOf(roundTrip(t, 'float16', [4], Float64Array.of(0.1, 65504, 1e-8, 65519.99)))), [11878, 31743, 0, 31743]);
});

test("write() converts a flat number[] of the right count like numpy's asarray", (t) => {
  assert.deepEqual(roundTrip(t, 'int16', [4], [1.9, -1.9, 0, 7]), Int16Array.of(1, -1, 0, 7));
  assert.deepEqual(roundTrip(t, 'int64', [4], [1.5, -1.5, 2 ** 53, -7]), BigInt64Array.of(1n, -1n, 2n ** 53n, -7n));
  assert.deepEqual(roundTrip(t, 'float64', [2], [2n ** 53n + 1n, -3n]), Float64Array.of(2 ** 53, -3));
  assert.deepEqual(roundTrip(t, 'float32', [3], [0.1, 1e40, -1e-50]), Float32Array.of(Math.fround(0.1), Infinity, -0));
  assert.deepEqual(Array.from(bitsOf(roundTrip(t, 'float16', [3], [0.1, 2 ** -24, 65520]))), [11878, 0x0001, 0x7c00]);
});

test('float16 conversion rounds the exact value to nearest, ties to even, like numpy', (t) => {
  const ulp = 2 ** -10;
  const cases = [
    [1 + ulp / 2, 0x3c00],
    [1 + (3 * ulp) / 2, 0x3c02],
    [1 + ulp / 2 + 2 ** -40, 0x3c01],
    [1 + ulp / 2 - 2 ** -40, 0x3c00],
  ];
  const bits = Array.from(bitsOf(roundTrip(t, 'float16', [cases.length], cases.map(([value]) => value))));
  assert.deepEqual(bits, cases.map(([, expected]) => expected));
});

test('write() takes nested arrays whose nesting equals the shape', (t) => {
  assert.deepEqual(roundTrip(t, 'int8', [2, 3], [[1, 2, 3], [4, 5, 6]]), Int8Array.of(1, 2, 3, 4, 5, 6));
  assert.deepEqual(roundTrip(t, 'float32', [2, 1, 2], [[[1, 2]], [[3, 4]]]), Float32Array.of(1, 2, 3, 4));
  assert.deepEqual(roundTrip(t, 'uint64', [1, 2], [[1n, 2n ** 64n - 1n]]), BigUint64Array.of(1n, 2n ** 64n - 1n));
});

test('write() takes { data, shape } with the stream shape', (t) => {
  assert.deepEqual(roundTrip(t, 'float32', [2, 2], { data: Float32Array.of(1, 2, 3, 4), shape: [2, 2] }), Float32Array.of(1, 2, 3, 4));
  assert.deepEqual(roundTrip(t, 'int32', [2, 2], { data: Float64Array.of(1.5, 2, 3, 4), shape: [2, 2] }), Int32Array.of(1, 2, 3, 4));
  assert.deepEqual(roundTrip(t, 'uint16', [1, 3], { data: [7, 8, 9], shape: [1, 3] }), Uint16Array.of(7, 8, 9));
});

test('a value of the wrong shape or length is rejected naming both shapes; nothing is written, count unchanged', (t) => {
  const stream = create(streamName(t, 'shape-error'), { shape: [2, 3], dtype: 'float32' });
  stream.write([1, 2, 3, 4, 5, 6]);
  const before = stateOf(stream);
  const cases = [
    [new Float32Array(5), '[5]'],
    [new Float64Array(7), '[7]'],
    [[1, 2, 3, 4, 5, 6, 7], '[7]'],
    [[[1, 2], [3, 4], [5, 6]], '[3, 2]'],
    [[[1, 2, 3, 4, 5, 6]], '[1, 6]'],
    [[[[1, 2, 3], [4, 5, 6]]], '[1, 2, 3]'],
    [{ data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [3, 2] }, '[3, 2]'],
    [{ data: [1, 2, 3, 4, 5, 6], shape: [6] }, '[6]'],
    [{ data: new Float32Array(5), shape: [2, 3] }, '[5]'],
  ];
  for (const [value, received] of cases) {
    assert.throws(
      () => stream.write(value),
      (error) => {
        assert.equal(error.code, 'ERR_SHAPE_MISMATCH');
        assert.ok(error.message.includes('[2, 3]'), error.message);
        assert.ok(error.message.includes(`received shape ${received}`), error.message);
        return true;
      },
      `received ${received}`,
    );
    assert.deepEqual(stateOf(stream), before);
  }
  stream.close();
});

test('ragged arrays and non-numeric values are rejected; nothing is written', (t) => {
  const stream = create(streamName(t, 'value-error'), { shape: [2, 3], dtype: 'int32' });
  stream.write([1, 2, 3, 4, 5, 6]);
  const before = stateOf(stream);
  const cases = [
    [[[1, 2, 3], [4, 5]], RangeError],
    [[[1, 2, 3], [4, 5, 6, 7]], RangeError],
    [[1, 2, '3', 4, 5, 6], TypeError],
    [[1, 2, null, 4, 5, 6], TypeError],
    ['123456', TypeError],
    [null, TypeError],
    [new DataView(new ArrayBuffer(24)), TypeError],
    [{ data: 'abcdef', shape: [2, 3] }, TypeError],
  ];
  for (const [value, ErrorType] of cases) {
    assert.throws(() => stream.write(value), ErrorType, JSON.stringify(value));
    assert.deepEqual(stateOf(stream), before);
  }
  const bigints = create(streamName(t, 'value-error-int64'), { shape: [2], dtype: 'int64' });
  assert.throws(() => bigints.write([NaN, 1]), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => bigints.write([Infinity, 1]), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(bigints.count, 0);
  bigints.close();
  stream.close();
});

test('every write bumps count and write time and leaves an even write sequence', async (t) => {
  const stream = create(streamName(t, 'counters'), { shape: [2] });
  let previousTime = 0;
  for (let n = 1; n <= 3; n++) {
    const before = Date.now() / 1000;
    stream.write([n, n]);
    assert.equal(stream.count, n);
    assert.equal(stream.writeSequence, 2 * n);
    assert.ok(stream.writeTime >= before - 0.01 && stream.writeTime <= Date.now() / 1000 + 0.01, `write time ${stream.writeTime}`);
    assert.ok(stream.writeTime >= previousTime);
    previousTime = stream.writeTime;
    await delay(5);
  }
  stream.close();
});

test('readNew() waits for the next write and resolves with it', async (t) => {
  const stream = create(streamName(t, 'readnew'), { shape: [3], dtype: 'int16' });
  stream.write([1, 1, 1]);
  stream.read();
  const next = stream.readNew({ timeout: 10000 });
  const settled = settledTracker(next);
  await delay(150);
  assert.equal(settled(), false, 'readNew() resolved before any new write');
  stream.write([2, 3, 4]);
  assert.deepEqual(await next, Int16Array.of(2, 3, 4));
  stream.close();
});

test('readNew() resolves with a write made by another process', async (t) => {
  const name = streamName(t, 'readnew-cross');
  const stream = create(name, { shape: [64], dtype: 'float64' });
  const next = stream.readNew({ timeout: 15000 });
  const settled = settledTracker(next);
  await delay(150);
  assert.equal(settled(), false);
  const writer = startNodePeer(t, 'constant-writer.js', { name, frames: 1 });
  assert.deepEqual(await next, new Float64Array(64).fill(2));
  assert.equal((await writer.done).code, 0);
  stream.close();
});

test('readNew() with a timeout fails with ETIMEDOUT in time when nothing is written', async (t) => {
  const stream = create(streamName(t, 'readnew-timeout'), { shape: [2] });
  const started = performance.now();
  await assert.rejects(stream.readNew({ timeout: 200 }), (error) => {
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /200 ms/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 150 && elapsed < 2000, `timed out after ${elapsed} ms`);
  stream.close();
});

test('safe reads are whole frames while another process writes as fast as it can (10,000 reads)', { timeout: 120000 }, async (t) => {
  const name = streamName(t, 'torn');
  const stream = create(name, { shape: [8192], dtype: 'float64' });
  const writer = startNodePeer(t, 'constant-writer.js', { name }, { timeout: 120000 });
  await writer.lines.waitFor('writing', 20000);

  const out = new Float64Array(8192);
  const countBefore = stream.count;
  const seen = new Set();
  let torn = 0;
  for (let i = 0; i < 10000; i++) {
    const frame = i % 2 === 0 ? stream.read({ out }) : stream.read();
    if (!isUniform(frame)) torn++;
    seen.add(frame[0]);
  }
  const written = stream.count - countBefore;
  writer.child.kill('SIGKILL');
  await writer.done;

  assert.equal(torn, 0, `${torn} of 10,000 snapshots mixed two frames`);
  assert.ok(written > 0, 'the writer published nothing while we read');
  assert.ok(seen.size >= 2, `only ${seen.size} distinct frames seen`);
  assert.ok(!seen.has(0), 'read a frame the writer never wrote');
  stream.close();
});

test('read({ safe: false }) without holding the lock fails with a clear error', (t) => {
  const stream = create(streamName(t, 'unsafe'), { shape: [2] });
  assert.throws(() => stream.read({ safe: false }), (error) => {
    assert.equal(error.code, 'ERR_LOCK_NOT_HELD');
    assert.match(error.message, /lock/);
    assert.match(error.message, /acquire\(\)/);
    return true;
  });
  stream.close();
});

test('read({ safe: false }) under the lock returns a live view of the payload', async (t) => {
  const name = streamName(t, 'live');
  const stream = create(name, { shape: [3], dtype: 'int32' });
  const other = open(name);
  stream.write([1, 2, 3]);
  await stream.acquire();
  const view = stream.read({ safe: false });
  assert.deepEqual(view, Int32Array.of(1, 2, 3));
  stream.write([4, 5, 6]);
  assert.deepEqual(view, Int32Array.of(4, 5, 6));
  view[0] = 40;
  stream.release();
  assert.deepEqual(other.read(), Int32Array.of(40, 5, 6));
  other.close();
  stream.close();
});

test('a live view of a payload larger than one buffer of the runtime (4 GiB on Node 20) fails with ERR_BUFFER_TOO_LARGE, never aborting the process', async (t) => {
  const bytes = 2 ** 32 + 8;
  const stream = create(streamName(t, 'huge-live'), { shape: [bytes], dtype: 'uint8' });
  t.after(() => stream.close());
  await stream.acquire();
  if (bytes > bufferConstants.MAX_LENGTH) {
    assert.throws(() => stream.read({ safe: false }), (error) => error.code === 'ERR_BUFFER_TOO_LARGE' && error.message.includes('a live view') && /Node 22/.test(error.message));
  } else {
    assert.equal(stream.read({ safe: false }).length, bytes);
  }
  stream.release();
});

test('clear() zeroes the payload and counts as a write', async (t) => {
  const stream = create(streamName(t, 'clear'), { shape: [2, 2], dtype: 'uint16' });
  stream.write([1, 2, 3, 4]);
  const firstTime = stream.writeTime;
  await delay(5);
  stream.clear();
  assert.deepEqual(stream.read(), new Uint16Array(4));
  assert.equal(stream.count, 2);
  assert.equal(stream.writeSequence, 4);
  assert.ok(stream.writeTime > firstTime);
  stream.close();
});

test('read() refuses options that are not an object, and safe or allowInterrupted that is not a boolean, instead of taking a safe read', (t) => {
  const name = streamName(t, 'read-options');
  const stream = create(name, { shape: [2], dtype: 'int32' });
  t.after(() => stream.close());
  stream.write([1, 2]);
  assert.throws(() => stream.read(null), { code: 'ERR_INVALID_ARG_TYPE', message: /read\(options\): options must be an object or omitted, received null/ });
  assert.throws(() => stream.read({ safe: 'no' }), { code: 'ERR_INVALID_ARG_TYPE', message: 'option safe must be true or false, received "no"' });
  assert.throws(() => stream.read({ allowInterrupted: 1 }), { code: 'ERR_INVALID_ARG_TYPE', message: /option allowInterrupted must be true or false/ });
  assert.deepEqual(Array.from(stream.read({ safe: true, allowInterrupted: false })), [1, 2]);
});
