// Ring streams in one process: options, lossless delivery in write order
// with each frame's own count and write time, exact loss accounting, the two
// overflow modes, loans and samples without copies, and hostile ring
// metadata.
import assert from 'node:assert/strict';
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { create, open, RingStream, SharedMemory, ShmError } from '../packages/tsshmem/dist/index.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { RING_CONTROL_OFFSET, RingControl } from '../packages/tsshmem/dist/format/ring.js';
import { heldResources, leftovers, run, startNodePeer, streamName } from './helpers.js';
import { lockPath } from '../packages/tsshmem/dist/format/names.js';

const metaPath = (name) => `/dev/shm/${baseName(name)}_meta`;
const dataPath = (name) => `/dev/shm/${baseName(name)}`;

/** A ring of int32 frames of 8 elements; the writer and a separate reader handle. */
function ring(t, options = {}, label = 'ring') {
  const name = streamName(t, label);
  const writer = create(name, { shape: [8], dtype: 'int32', history: 4, ...options });
  const reader = open(name);
  t.after(() => {
    reader.close();
    writer.close();
  });
  return { name, writer, reader };
}

const frame = (n) => new Int32Array(8).fill(n);

/** Writes a u64 of the ring control area of the raw metadata object. */
function pokeControl(name, offset, value) {
  const fd = openSync(metaPath(name), 'r+');
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(value));
  writeSync(fd, bytes, 0, 8, RING_CONTROL_OFFSET + offset);
  closeSync(fd);
}

function rawCount(name) {
  return readFileSync(metaPath(name)).readDoubleLE(8);
}

test('create() with a history makes a RingStream that open() recognises; bad ring options are refused and create nothing', (t) => {
  const { name, writer, reader } = ring(t);
  assert.ok(writer instanceof RingStream && writer instanceof SharedMemory);
  assert.ok(reader instanceof RingStream);
  assert.equal(reader.history, 4);
  assert.equal(reader.overflow, 'overwrite');
  assert.equal(reader.pyshmemFrame, true);
  assert.match(String(reader), /history=4, overflow=overwrite/);
  for (const [options, code, pattern] of [
    [{ history: 1 }, 'ERR_INVALID_ARG_VALUE', /history must be an integer from 2/],
    [{ history: 2.5 }, 'ERR_INVALID_ARG_VALUE', /history/],
    [{ history: '4' }, 'ERR_INVALID_ARG_TYPE', /history must be a number/],
    [{ history: 4, overflow: 'drop' }, 'ERR_INVALID_ARG_VALUE', /overflow must be 'overwrite' or 'block'/],
    [{ overflow: 'block' }, 'ERR_INVALID_ARG_VALUE', /pass a history/],
    [{ history: 4, pyshmemFrame: 1 }, 'ERR_INVALID_ARG_TYPE', /pyshmemFrame/],
  ]) {
    const other = streamName(t, 'bad-options');
    assert.throws(() => create(other, { shape: [8], ...options }), (error) => error.code === code && pattern.test(error.message), JSON.stringify(options));
    assert.deepEqual(leftovers(other), []);
  }
  assert.ok(leftovers(name).length >= 2);
});

test('next() returns every frame in write order, each with the count and write time of its own write', async (t) => {
  const { writer, reader } = ring(t, { history: 8 });
  const times = [];
  for (let n = 1; n <= 8; n++) {
    writer.write(frame(n));
    times.push(writer.writeTime);
  }
  for (let n = 1; n <= 8; n++) {
    const received = await reader.next({ timeout: 1000 });
    assert.deepEqual(Array.from(received), Array.from(frame(n)));
    assert.equal(reader.lastReadCount, n);
    assert.equal(reader.lastWriteTime, times[n - 1], `frame ${n} carries its own write time, not the newest`);
    assert.equal(reader.missedWrites, 0);
  }
  assert.equal(reader.totalMissedWrites, 0);
  // frames() is next() in a loop: the same order.
  writer.write(frame(9));
  writer.write(frame(10));
  const seen = [];
  for await (const received of reader.frames({ timeout: 1000 })) {
    seen.push(received[0]);
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen, [9, 10]);
});

test('a reader more than history frames behind gets the oldest frame still held, and missedWrites says exactly how many it lost', async (t) => {
  const { writer, reader } = ring(t, { history: 4 });
  writer.write(frame(1));
  assert.equal((await reader.next())[0], 1);
  for (let n = 2; n <= 11; n++) writer.write(frame(n));
  // Frames 8-11 are held; 2-7 are gone.
  assert.equal((await reader.next())[0], 8);
  assert.equal(reader.missedWrites, 6);
  assert.equal(reader.lastReadCount, 8);
  for (const n of [9, 10, 11]) {
    assert.equal(reader.readNewSync({ timeout: 1000 })[0], n, 'readNewSync() also delivers in order');
    assert.equal(reader.missedWrites, 0);
  }
  assert.equal(reader.totalMissedWrites, 6);
});

test('read() returns the newest frame and moves the handle past it; next() then waits for the following write', async (t) => {
  const { writer, reader } = ring(t);
  for (let n = 1; n <= 3; n++) writer.write(frame(n));
  assert.equal(reader.read()[0], 3);
  assert.deepEqual(reader.ringStatus().readers, [], 'read() alone does not register: a monitor never holds writers back');
  assert.equal(reader.lastReadCount, 3);
  assert.equal(reader.missedWrites, 2);
  const pending = reader.next({ timeout: 5000 });
  writer.write(frame(4));
  assert.equal((await pending)[0], 4);
  assert.equal(reader.missedWrites, 0);
  await assert.rejects(reader.next({ timeout: 20 }), (error) => error.code === 'ETIMEDOUT');
  assert.throws(() => reader.readNewSync({ timeout: 20 }), (error) => error.code === 'ETIMEDOUT');
});

test("overflow 'overwrite': the writer never waits for a registered reader that does not read", (t) => {
  const { reader, writer } = ring(t);
  assert.equal(reader.register(), true);
  assert.equal(reader.ringStatus().readers.length, 1);
  for (let n = 1; n <= 40; n++) writer.write(frame(n), { timeout: 0 });
  assert.equal(writer.count, 40);
  assert.equal(writer.ringStatus().readers[0].behind, 40);
});

test("overflow 'block': write() times out with ETIMEDOUT (nothing written) while a registered reader is history frames behind; writeAsync() waits without blocking the event loop and goes on once it reads", async (t) => {
  const { name, writer, reader } = ring(t, { overflow: 'block' });
  reader.register();
  for (let n = 1; n <= 4; n++) writer.write(frame(n), { timeout: 0 });
  assert.throws(
    () => writer.write(frame(5), { timeout: 30 }),
    (error) => error instanceof ShmError && error.code === 'ETIMEDOUT' && /reader pid \d+ is 4 of 4 frames behind/.test(error.message),
  );
  assert.equal(rawCount(name), 4, 'nothing was written');
  const pending = writer.writeAsync(frame(5), { timeout: 5000 });
  // This timer can fire only if writeAsync() leaves the event loop free.
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(rawCount(name), 4, 'writeAsync() is still waiting');
  assert.equal((await reader.next())[0], 1);
  await pending;
  for (let n = 2; n <= 5; n++) assert.equal((await reader.next())[0], n);
  assert.equal(reader.totalMissedWrites, 0, 'block mode is lossless');
  // A closed reader no longer holds writers back.
  reader.close();
  for (let n = 6; n <= 20; n++) writer.write(frame(n), { timeout: 0 });
});

test('loan(): fill the slot in place and publish(); the array still aliases the slot after publish (no crash); a loan disposed unpublished publishes nothing; close() empties the arrays', async (t) => {
  const { name, writer, reader } = ring(t);
  const loan = writer.loan();
  assert.ok(loan.array instanceof Int32Array);
  assert.equal(loan.array.length, 8);
  assert.throws(() => writer.write(frame(0)), (error) => error.code === 'ERR_LOAN_ACTIVE');
  assert.throws(() => reader.write(frame(0)), (error) => error.code === 'ERR_LOAN_ACTIVE', 'another handle of this thread too');
  assert.throws(() => writer.loan(), (error) => error.code === 'ERR_LOAN_ACTIVE');
  loan.array.fill(7);
  loan.publish();
  assert.equal(loan.array.length, 8, 'a published loan still aliases its slot (no copy, no detach)');
  assert.equal(loan.array[0], 7, 'reading it is allowed');
  assert.equal(loan.settled, true);
  assert.equal(writer.holdsLock, false, 'publish() gave the lock back');
  assert.deepEqual(Array.from(await reader.next()), Array.from(frame(7)));
  assert.equal(reader.lastReadCount, 1);

  const abandoned = writer.loan();
  abandoned.array.fill(99);
  abandoned[Symbol.dispose]();
  assert.equal(rawCount(name), 1, 'nothing published');
  await assert.rejects(reader.next({ timeout: 30 }), (error) => error.code === 'ETIMEDOUT');
  writer.write(frame(8));
  assert.deepEqual(Array.from(await reader.next()), Array.from(frame(8)));
  assert.equal(reader.missedWrites, 0);
  writer.close();
  assert.equal(loan.array.length, 0, 'close() detaches the data buffer: every loan view is empty');
  assert.equal(abandoned.array.length, 0);
});

/** Whether another process could take the stream's flock now (flock(1), one try). */
async function lockFreeElsewhere(name) {
  const { code } = await run('flock', ['--nonblock', '--conflict-exit-code', '3', lockPath(name), 'true']).done;
  assert.ok(code === 0 || code === 3, `flock(1) ended with ${code}`);
  return code === 0;
}

test('loan() holds the write lock against other processes until publish() or dispose; inside this thread\'s own acquireSync() the lock stays held after publish() until release()', async (t) => {
  const { name, writer } = ring(t);
  const loan = writer.loan();
  assert.equal(writer.holdsLock, true);
  assert.equal(await lockFreeElsewhere(name), false, 'a loan out: another process cannot take the lock');
  loan.publish();
  assert.equal(writer.holdsLock, false);
  assert.equal(await lockFreeElsewhere(name), true, 'publish() gave the flock back');

  const disposed = writer.loan();
  disposed[Symbol.dispose]();
  assert.equal(await lockFreeElsewhere(name), true, 'disposing the loan gave the flock back');

  writer.acquireSync();
  const inside = writer.loan();
  inside.publish();
  assert.equal(writer.holdsLock, true, 'the outer acquireSync() still holds the lock');
  assert.equal(await lockFreeElsewhere(name), false);
  writer.release();
  assert.equal(await lockFreeElsewhere(name), true);

  const outer = writer.loan();
  writer.acquireSync();
  outer.publish();
  assert.equal(writer.holdsLock, true, 'an acquireSync() taken during the loan outlives its publish()');
  assert.equal(await lockFreeElsewhere(name), false);
  writer.release();
  assert.equal(writer.holdsLock, false);
  assert.equal(await lockFreeElsewhere(name), true);
  assert.equal(writer.count, 3, 'three loans published, the disposed one nothing');
});

test('loans and samples of the same slot hand out the same array: no typed array is made per frame', async (t) => {
  const { writer, reader } = ring(t, { history: 2 });
  const loans = [];
  const samples = [];
  for (let n = 1; n <= 4; n++) {
    const loan = writer.loan();
    loan.array.fill(n);
    loans.push(loan.array);
    loan.publish();
    const sample = await reader.nextSample();
    assert.equal(sample.array[0], n);
    samples.push(sample.array);
    sample.release();
  }
  assert.equal(loans[2], loans[0], 'the writer handle reuses its view of slot 0');
  assert.equal(loans[3], loans[1], 'and of slot 1');
  assert.notEqual(loans[0], loans[1]);
  assert.equal(samples[2], samples[0], 'the reader handle reuses its view of slot 0');
  assert.equal(samples[3], samples[1]);
  assert.notEqual(samples[0], loans[0], 'each handle has its own views');
});

test('nextSample() and next() report bad options and closed handles as rejections, never synchronous throws, also when a frame is already there', async (t) => {
  const { writer, reader } = ring(t);
  writer.write(frame(1));
  let promise;
  assert.doesNotThrow(() => (promise = reader.nextSample({ spin: -1 })));
  await assert.rejects(promise, (error) => error.code === 'ERR_INVALID_ARG_VALUE');
  assert.doesNotThrow(() => (promise = reader.next({ timeout: 'soon' })));
  await assert.rejects(promise, (error) => error.code === 'ERR_INVALID_ARG_TYPE');
  const sample = await reader.nextSample({ spin: 0.1 });
  assert.equal(sample.count, 1, 'the frame was still there: nothing was consumed by the refused calls');
  sample.release();
  reader.close();
  assert.doesNotThrow(() => (promise = reader.nextSample()));
  await assert.rejects(promise, (error) => error.code === 'ERR_STREAM_CLOSED');
});

test('nextSample(): the array is the slot itself; no writer reuses a held slot; release() lets writers reuse it (the array may then show a later frame, never crashes); a fifth sample is ERR_SAMPLE_LIMIT', async (t) => {
  const { writer, reader } = ring(t, { history: 8 });
  writer.write(frame(1));
  const first = await reader.nextSample();
  assert.equal(first.count, 1);
  assert.equal(first.writeTime, writer.writeTime);
  assert.deepEqual(Array.from(first.array), Array.from(frame(1)));
  // 30 writes cycle the other slots several times; the held one keeps frame 1.
  for (let n = 2; n <= 31; n++) writer.write(frame(n));
  assert.deepEqual(Array.from(first.array), Array.from(frame(1)), 'the held slot was not reused');
  const held = [first];
  for (let i = 0; i < 3; i++) held.push(reader.readNewSampleSync({ timeout: 1000 }));
  assert.deepEqual(
    held.map((sample) => sample.count),
    [1, 25, 26, 27],
    'the reader fell behind: the oldest frames still held, then in order',
  );
  assert.equal(reader.missedWrites, 0);
  assert.equal(reader.totalMissedWrites, 23);
  await assert.rejects(reader.nextSample(), (error) => error.code === 'ERR_SAMPLE_LIMIT' && /already holds 4 samples/.test(error.message));
  first.release();
  assert.equal(first.array.length, 8, 'a released view still aliases the slot');
  void Array.from(first.array); // reading a released view is allowed
  assert.equal(first.released, true);
  first.release();
  const next = await reader.nextSample();
  assert.equal(next.count, 28);
  next[Symbol.dispose]();
  // close() detaches the data buffer: every view, held or released, is empty.
  const kept = held[1];
  reader.close();
  assert.equal(kept.array.length, 0);
  assert.equal(first.array.length, 0);
  kept.release();
});

test('samples in overwrite mode: with every slot but one held, writes go on in the free slot', async (t) => {
  const { writer, reader } = ring(t, { history: 4 });
  for (let n = 1; n <= 3; n++) writer.write(frame(n));
  const held = [await reader.nextSample(), await reader.nextSample(), await reader.nextSample()];
  for (let n = 4; n <= 20; n++) writer.write(frame(n), { timeout: 0 });
  held.forEach((sample, i) => assert.equal(sample.array[0], i + 1));
  assert.equal(reader.read()[0], 20);
  for (const sample of held) sample.release();
});

test('pyshmemFrame: false makes a stream whose metadata version is 1002; tsshmem opens it, the pyshmem payload stays untouched', async (t) => {
  const { name, writer, reader } = ring(t, { pyshmemFrame: false });
  assert.equal(readFileSync(metaPath(name)).readDoubleLE(0), 1002);
  assert.equal(reader.pyshmemFrame, false);
  writer.write(frame(5));
  assert.equal((await reader.next())[0], 5);
  assert.equal(reader.read()[0], 5);
  const payload = readFileSync(`/dev/shm/${baseName(name)}`).subarray(0, 32);
  assert.ok(payload.every((byte) => byte === 0), 'no copy into the pyshmem payload');
});

test('a handle that reads and writes never drops its own reader entry: the slot of its sample survives its own writes, and another handle registers beside it', async (t) => {
  const { name, writer } = ring(t, { history: 2 });
  writer.write(frame(1));
  const sample = await writer.nextSample(); // registers the writing handle, holding frame 1's slot
  for (let n = 2; n <= 6; n++) writer.write(frame(n), { timeout: 0 });
  assert.ok(sample.array.every((value) => value === 1), `the held slot still holds frame 1, not ${sample.array[0]}`);
  assert.deepEqual(writer.ringStatus().readers.map((reader) => reader.pid), [process.pid]);
  const other = open(name);
  t.after(() => other.close());
  assert.equal(other.register(), true);
  assert.equal(writer.ringStatus().readers.length, 2, 'two entries: the writer kept its own');
  sample.release();
});

test('hostile ring metadata: open() refuses impossible layouts with ERR_INVALID_STREAM, and a corrupted head makes reads and writes fail with it, never crash', async (t) => {
  for (const [label, offset, value, pattern] of [
    ['history 1', RingControl.slots, 1, /ring history 1/],
    ['history 2^40', RingControl.slots, 2 ** 40, /ring history/],
    ['stride past the object', RingControl.stride, 2 ** 40, /shorter than its 4 ring slots need/],
    ['stride too small', RingControl.stride, 8, /stride 8 does not fit/],
    ['slots over the payload', RingControl.slotsOffset, 0, /overlaps the payload/],
    ['frame size', RingControl.frameBytes, 4, /frame size 4 differs/],
    // Its readers would hold no liveness lock: this version's writers would take them for dead.
    ['layout version 1', RingControl.layoutVersion, 1, /layout version 1 was written by an older tsshmem.*remove the stream and create it again/],
  ]) {
    const name = streamName(t, 'hostile');
    create(name, { shape: [8], dtype: 'int32', history: 4 }).close();
    pokeControl(name, offset, value);
    assert.throws(() => open(name), (error) => error.code === 'ERR_INVALID_STREAM' && pattern.test(error.message), label);
  }
  const { name, writer, reader } = ring(t);
  writer.write(frame(1));
  assert.equal((await reader.next())[0], 1);
  pokeControl(name, RingControl.head, 2 ** 60);
  await assert.rejects(reader.next({ timeout: 100 }), (error) => error.code === 'ERR_INVALID_STREAM');
  assert.throws(() => writer.write(frame(2)), (error) => error.code === 'ERR_INVALID_STREAM');
  assert.throws(() => reader.loan(), (error) => error.code === 'ERR_INVALID_STREAM');
  assert.equal(writer.holdsLock, false, 'a failed loan gives the lock back');
  // A head that went backwards (the reader is past it) is as corrupt.
  pokeControl(name, RingControl.head, 0);
  await assert.rejects(reader.next({ timeout: 100 }), (error) => error.code === 'ERR_INVALID_STREAM');
});

test('a ring larger than one buffer of the runtime (4 GiB on Node 20): create() refuses it and creates nothing, open() fails with ERR_BUFFER_TOO_LARGE and holds nothing, never aborting the process', (t) => {
  const oneBuffer = bufferConstants.MAX_LENGTH;
  const name = streamName(t, 'huge');
  const frameBytes = 1 << 28;
  const history = Math.floor(oneBuffer / frameBytes) + 1;
  if (history <= 65536) {
    assert.throws(
      () => create(name, { shape: [frameBytes], dtype: 'uint8', history }),
      (error) => error.code === 'ERR_INVALID_ARG_VALUE' && error.message.includes(`${oneBuffer} bytes`) && /smaller history or shape/.test(error.message),
    );
    assert.deepEqual(leftovers(name), [], 'nothing created');
  }
  // A ring made elsewhere (Python, Node 22): its sparse data object reaches past one buffer.
  create(name, { shape: [8], dtype: 'int32', history: 4 }).close();
  const stride = 2 ** 31;
  pokeControl(name, RingControl.stride, stride);
  const dataBytes = 2 ** 34;
  truncateSync(dataPath(name), dataBytes);
  if (dataBytes > oneBuffer) {
    assert.throws(() => open(name), (error) => error.code === 'ERR_BUFFER_TOO_LARGE' && error.message.includes(JSON.stringify(name)) && /Node 22/.test(error.message));
    assert.deepEqual(heldResources(name), { descriptors: [], mappings: 0 });
  } else {
    const stream = open(name);
    assert.equal(stream.history, 4);
    stream.close();
  }
});

test('close() with a loan and samples outstanding empties their arrays, leaves the reader table, gives the lock back and unmaps at once', async (t) => {
  const name = streamName(t, 'close');
  const writer = create(name, { shape: [8], dtype: 'int32', history: 4 });
  const reader = open(name);
  writer.write(frame(1));
  const sample = await reader.nextSample();
  const loan = writer.loan();
  assert.equal(writer.ringStatus().readers.length, 1);
  reader.close();
  assert.equal(sample.array.length, 0);
  assert.deepEqual(writer.ringStatus().readers, [], 'the closed reader left the table');
  writer.close();
  assert.equal(loan.array.length, 0);
  assert.deepEqual(heldResources(name), { descriptors: [], mappings: 0 });
  const other = open(name);
  t.after(() => other.close());
  other.write(frame(2), { timeout: 1000 });
  assert.equal(other.count, 2, 'the abandoned loan published nothing and its lock is free');
});

test('worker threads that end (process.exit() or terminate()) while holding samples, without close(), leave the reader table and never crash the process', async (t) => {
  const name = streamName(t, 'worker');
  const writer = create(name, { shape: [1 << 16], dtype: 'float32', history: 4, overflow: 'block' });
  t.after(() => writer.close());
  for (const exit of [true, false, true, false]) {
    const worker = new Worker(new URL('./peers/ring-worker.js', import.meta.url), { workerData: { name, exit } });
    const message = () => new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    assert.equal(await message(), 'opened');
    writer.write(new Float32Array(1 << 16).fill(1), { timeout: 5000 });
    assert.equal(await message(), 'holding');
    assert.equal(writer.ringStatus().readers[0].holds.length, 1);
    const ended = new Promise((resolve) => worker.once('exit', resolve));
    if (exit) worker.postMessage('end');
    else await worker.terminate();
    await ended;
    assert.deepEqual(writer.ringStatus().readers, [], 'the ended thread left the table');
  }
  for (let n = 0; n < 8; n++) writer.write(new Float32Array(1 << 16), { timeout: 0 });
});

test('a ring whose metadata object another process truncates: ring calls throw ERR_INVALID_STREAM naming the stream, the process survives, close() works', async (t) => {
  const { name, writer, reader } = ring(t, { shape: [4096] }, 'lost-meta');
  const big = (n) => new Int32Array(4096).fill(n);
  writer.write(big(1));
  assert.equal(reader.register(), true);
  truncateSync(metaPath(name), 0);
  const lostMetadata = (error) =>
    error instanceof ShmError && error.code === 'ERR_INVALID_STREAM' && error.message.includes(JSON.stringify(name)) && /metadata object/.test(error.message);
  assert.throws(() => writer.write(big(2)), lostMetadata, 'the write ran into the lost pages');
  assert.throws(() => writer.write(big(3)), lostMetadata, 'and every later call knows');
  assert.throws(() => writer.loan(), lostMetadata);
  await assert.rejects(writer.writeAsync(big(4)), lostMetadata);
  assert.throws(() => reader.read(), lostMetadata);
  await assert.rejects(reader.next({ timeout: 1000 }), lostMetadata);
  await assert.rejects(reader.nextSample({ timeout: 1000 }), lostMetadata);
  assert.throws(() => reader.ringStatus(), lostMetadata);
  reader.close();
  writer.close();
  assert.equal(reader.closed && writer.closed, true);
});

test('a ring whose data object another process truncates: writes, loans, reads and samples throw ERR_INVALID_STREAM naming the stream; a sample held before reads zeros, never crashes', async (t) => {
  const { name, writer, reader } = ring(t, { shape: [4096] }, 'lost-data');
  const big = (n) => new Int32Array(4096).fill(n);
  writer.write(big(1));
  const held = await reader.nextSample();
  truncateSync(dataPath(name), 0);
  const lostData = (error) =>
    error instanceof ShmError && error.code === 'ERR_INVALID_STREAM' && error.message.includes(JSON.stringify(name)) && /data segment/.test(error.message);
  assert.throws(() => writer.write(big(2)), lostData, 'the write ran into the lost pages');
  assert.throws(() => writer.loan(), lostData);
  assert.equal(writer.holdsLock, false, 'a refused loan leaves the lock free');
  await assert.rejects(writer.writeAsync(big(3)), lostData);
  assert.throws(() => reader.read(), lostData);
  await assert.rejects(reader.next({ timeout: 1000 }), lostData);
  await assert.rejects(reader.nextSample({ timeout: 1000 }), lostData);
  assert.equal(held.array[held.array.length - 1], 0, "the held view reads the guard's zeros");
  assert.equal(writer.count, 1, 'the metadata is intact');
  held.release();
});

test('a data object truncated while a sample and a loan are out: their arrays read zeros, publish() and next() throw ERR_INVALID_STREAM, the process lives', async (t) => {
  const { name, writer, reader } = ring(t);
  writer.write(frame(7));
  const sample = await reader.nextSample();
  const loan = writer.loan();
  loan.array.fill(3);
  truncateSync(`/dev/shm/${baseName(name)}`, 0);
  assert.equal(sample.array[0], 0, 'the SIGBUS guard mapped zeros where the slot was');
  assert.equal(loan.array[0], 0);
  loan.array[1] = 5;
  assert.throws(() => loan.publish(), (error) => error.code === 'ERR_INVALID_STREAM');
  assert.equal(writer.holdsLock, false, 'the failed publish gave the lock back');
  await assert.rejects(reader.next({ timeout: 100 }), (error) => error.code === 'ERR_INVALID_STREAM');
  assert.throws(() => writer.write(frame(8)), (error) => error.code === 'ERR_INVALID_STREAM');
  sample.release();
});

test("next({ newest: true }) and readNewSync({ newest: true }) return the newest write, not the next in order, and never register: a monitor does not hold a block-mode writer back", async (t) => {
  const { writer, reader: monitor } = ring(t, { history: 2, overflow: 'block' }, 'ring-newest');
  writer.write(frame(1));
  assert.deepEqual(await monitor.next({ newest: true, timeout: 5000 }), frame(1));
  for (let n = 2; n <= 6; n++) writer.write(frame(n), { timeout: 0 });
  assert.deepEqual(writer.ringStatus().readers, [], 'the monitor is not a registered reader');
  assert.deepEqual(await monitor.next({ newest: true, timeout: 5000 }), frame(6));
  assert.equal(monitor.missedWrites, 4, 'the writes it skipped are counted');
  const pending = monitor.next({ newest: true, timeout: 5000 });
  writer.write(frame(7), { timeout: 0 });
  assert.deepEqual(await pending, frame(7));
  writer.write(frame(8), { timeout: 0 });
  assert.deepEqual(monitor.readNewSync({ newest: true, timeout: 5000 }), frame(8));
  await assert.rejects(monitor.next({ newest: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test("read() of a ring stream whose newest frame is a pyshmem write left half done takes read()'s own options: allowInterrupted returns it as it is, a timeout is validated", (t) => {
  const { name, writer, reader } = ring(t, {}, 'ring-interrupted');
  writer.write(frame(1));
  // A pyshmem writer that died between its count and its even sequence.
  const fd = openSync(metaPath(name), 'r+');
  const field = (index, value) => {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(value);
    writeSync(fd, bytes, 0, 8, 8 * index);
  };
  field(1, 2); // count
  field(9, 2 * 2 + 1); // write sequence, odd
  closeSync(fd);
  assert.throws(() => reader.read(), { code: 'ERR_WRITE_INTERRUPTED' });
  assert.equal(reader.read({ allowInterrupted: true }).length, 8);
  assert.equal(reader.lastReadCount, 2);
  assert.throws(() => reader.read({ timeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('spin never outlasts timeout: next() and readNewSync() with spin: 400, timeout: 50 spin no longer than 50 ms (plain and ring streams)', async (t) => {
  for (const history of [undefined, 4]) {
    const name = streamName(t, `spin-timeout-${history ?? 'plain'}`);
    const stream = create(name, { shape: [8], dtype: 'int32', ...(history === undefined ? {} : { history }) });
    t.after(() => stream.close());
    const before = process.cpuUsage();
    assert.throws(() => stream.readNewSync({ spin: 400, timeout: 50 }), { code: 'ETIMEDOUT' });
    await assert.rejects(stream.next({ spin: 400, timeout: 50 }), { code: 'ETIMEDOUT' });
    // CPU time, not speed: two spins of at most 50 ms use at most ~100 ms of
    // it; spins of 400 ms would use 800 ms of a core (400 even at half a core).
    const { user, system } = process.cpuUsage(before);
    assert.ok((user + system) / 1000 < 250, `${((user + system) / 1000).toFixed(0)} ms of CPU: the spin outlasted the timeout`);
  }
});

test('close() during writeAsync() and loanAsync() waiting for a lock another process holds rejects them with ERR_STREAM_CLOSED', { timeout: 60000 }, async (t) => {
  const { name, writer } = ring(t, {}, 'ring-closed');
  const holder = startNodePeer(t, 'lock-holder.js', { name }, { timeout: 60000 });
  await holder.lines.waitFor('locked', 20000);
  const closed = { code: 'ERR_STREAM_CLOSED', message: /reopen it with open/ };
  const writing = assert.rejects(writer.writeAsync(frame(1)), closed);
  const loaning = assert.rejects(writer.loanAsync(), closed);
  await new Promise((resolve) => setTimeout(resolve, 20));
  writer.close();
  await writing;
  await loaning;
});

test('every method that takes options refuses options that are not an object (null) with ERR_INVALID_ARG_TYPE, as a rejection where it returns a promise, and writes nothing', async (t) => {
  const plain = create(streamName(t, 'options-null-plain'), { shape: [8], dtype: 'int32' });
  const { writer: ring_ } = ring(t, {}, 'options-null-ring');
  t.after(() => plain.close());
  const invalid = { code: 'ERR_INVALID_ARG_TYPE' };
  for (const stream of [plain, ring_]) {
    for (const call of [() => stream.write(frame(1), null), () => stream.clear(null), () => stream.read(null), () => stream.readNewSync(null), () => stream.acquireSync(null), () => stream.lock(null), () => stream.repair(null)]) {
      assert.throws(call, invalid, call.toString());
    }
    for (const call of [() => stream.next(null), () => stream.writeAsync(frame(1), null), () => stream.clearAsync(null), () => stream.acquire(null), () => stream.frames(null).next()]) {
      await assert.rejects(call(), invalid, call.toString());
    }
    assert.equal(stream.count, 0, 'nothing was written');
  }
  assert.throws(() => ring_.loan(null), invalid);
  assert.throws(() => ring_.readNewSampleSync(null), invalid);
  await assert.rejects(ring_.loanAsync(null), invalid);
  await assert.rejects(ring_.nextSample(null), invalid);
});
