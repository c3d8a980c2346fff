import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { create, open, SharedMemory } from '../packages/tsshmem/dist/index.js';
import { leftovers, lockFromChild, peersDirectory, run, runNodePeer, streamName } from './helpers.js';

/** Arguments that would be valid for an open handle, where no arguments are not. */
const VALID_ARGUMENTS = { write: [[0, 0]], locked: [() => undefined] };

/** The error a call throws synchronously, rejects with, or (for an async generator) its first next() rejects with. */
async function errorOf(call) {
  try {
    const result = call();
    if (typeof result?.then === 'function') await result;
    else if (typeof result?.[Symbol.asyncIterator] === 'function') await result.next();
  } catch (error) {
    return error;
  }
  return null;
}

function assertReopenHint(error, name, member) {
  assert.ok(error instanceof Error, `${member} of a closed handle did not throw`);
  assert.equal(error.code, 'ERR_STREAM_CLOSED', member);
  assert.ok(error.message.includes(`open(${JSON.stringify(name)})`), `${member}: ${error.message}`);
}

function publicMembers() {
  const descriptors = Object.getOwnPropertyDescriptors(SharedMemory.prototype);
  const exempt = new Set(['constructor', 'close', 'closed', 'toString']);
  const names = Object.keys(descriptors).filter((member) => !exempt.has(member));
  return {
    properties: names.filter((member) => descriptors[member].get !== undefined),
    methods: names.filter((member) => typeof descriptors[member].value === 'function'),
  };
}

test('every method and metadata property of a closed handle throws an error telling to reopen with open(name)', async (t) => {
  const name = streamName(t, 'closed');
  const stream = create(name, { shape: [2] });
  stream.write([1, 2]);
  stream.close();
  assert.equal(stream.closed, true);

  const { properties, methods } = publicMembers();
  for (const expected of ['name', 'shape', 'dtype', 'size', 'gpuDevice', 'cpuMirror', 'owner', 'count', 'writeTime', 'writeSequence']) {
    assert.ok(properties.includes(expected), `property ${expected}`);
  }
  for (const expected of ['acquire', 'release', 'locked', 'lock', 'write', 'read', 'readNew', 'clear', 'unlink', 'delete']) {
    assert.ok(methods.includes(expected), `method ${expected}`);
  }
  for (const property of properties) {
    assertReopenHint(await errorOf(() => stream[property]), name, property);
  }
  for (const method of methods) {
    assertReopenHint(await errorOf(() => stream[method](...(VALID_ARGUMENTS[method] ?? []))), name, `${method}()`);
  }
  assert.equal(leftovers(name).length, 3, 'a call on the closed handle removed the stream');
  const reopened = open(name);
  assert.deepEqual(reopened.read(), Float32Array.of(1, 2));
  reopened.close();
});

test('close() is idempotent and [Symbol.dispose]() closes', (t) => {
  const name = streamName(t, 'idempotent');
  const stream = create(name, { shape: [1] });
  stream.close();
  stream.close();
  stream[Symbol.dispose]();

  const disposed = open(name);
  disposed[Symbol.dispose]();
  assert.equal(disposed.closed, true);
  assert.throws(() => disposed.read(), { code: 'ERR_STREAM_CLOSED' });
  disposed[Symbol.dispose]();
  assert.equal(leftovers(name).length, 3);
});

test('closing a handle leaves the stream to the other handles', (t) => {
  const name = streamName(t, 'close-one');
  const creator = create(name, { shape: [2], dtype: 'int8' });
  const reader = open(name);
  creator.write([1, 2]);
  creator.close();
  assert.deepEqual(reader.read(), Int8Array.of(1, 2));
  reader.write([3, 4]);
  assert.deepEqual(reader.read(), Int8Array.of(3, 4));
  reader.close();
});

test('close then reopen keeps the metadata, count and contents', (t) => {
  const name = streamName(t, 'reopen');
  const stream = create(name, { shape: [2, 2], dtype: 'uint16' });
  for (let n = 1; n <= 3; n++) stream.write([n, n, n, n]);
  const writeTime = stream.writeTime;
  stream.close();

  const reopened = open(name);
  assert.deepEqual(reopened.shape, [2, 2]);
  assert.equal(reopened.dtype, 'uint16');
  assert.equal(reopened.size, 8);
  assert.equal(reopened.count, 3);
  assert.equal(reopened.writeSequence, 6);
  assert.equal(reopened.writeTime, writeTime);
  assert.deepEqual(reopened.read(), Uint16Array.of(3, 3, 3, 3));
  reopened.close();
});

test('unlink() removes every object of the stream and closes the handle', (t) => {
  const name = streamName(t, 'unlink');
  const stream = create(name, { shape: [4] });
  stream.write([1, 2, 3, 4]);
  assert.equal(leftovers(name).length, 3);
  stream.unlink();
  assert.deepEqual(leftovers(name), []);
  assert.equal(stream.closed, true);
  assert.throws(() => open(name), { code: 'ENOENT' });
});

test('delete() is unlink()', (t) => {
  const name = streamName(t, 'delete');
  create(name, { shape: [4] }).close();
  const stream = open(name);
  stream.delete();
  assert.deepEqual(leftovers(name), []);
  assert.equal(stream.closed, true);
  assert.throws(() => open(name), { code: 'ENOENT' });
  const recreated = create(name, { shape: [2], dtype: 'int8' });
  assert.equal(recreated.count, 0);
  recreated.close();
});

test("the creator's exit leaves the stream usable", async (t) => {
  const name = streamName(t, 'creator-exit');
  const { code, stdout, stderr } = await runNodePeer('creator.js', { name, shape: [3], dtype: 'int32', values: [7, 8, 9] }).done;
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), 'created');

  const stream = open(name);
  assert.equal(stream.owner, false);
  assert.deepEqual(stream.shape, [3]);
  assert.equal(stream.count, 1);
  assert.deepEqual(stream.read(), Int32Array.of(7, 8, 9));
  await stream.acquire({ timeout: 5000 });
  stream.write([1, 2, 3]);
  stream.release();
  assert.deepEqual(stream.read(), Int32Array.of(1, 2, 3));
  stream.close();
});

test('closing one handle keeps the lock that another handle of this process holds', async (t) => {
  const name = streamName(t, 'close-keeps-lock');
  const holder = create(name, { shape: [1] });
  const bystander = open(name);
  await holder.acquire();
  bystander.close();
  assert.equal(holder.holdsLock, true);
  assert.equal(await lockFromChild(t, name), 'busy');
  holder.release();
  holder.close();
});

test('closing the last handle that holds the lock releases it for other processes', async (t) => {
  const name = streamName(t, 'close-releases');
  const stream = create(name, { shape: [1] });
  await stream.acquire();
  stream.close();
  assert.equal(await lockFromChild(t, name, 2000), 'locked');
});

test('native write and read kept past their NativeStream still reach the stream, and throw once it is closed', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'kept-functions');
  const stream = create(name, { shape: [256], dtype: 'float32' });
  stream.write(Float32Array.from({ length: 256 }, (_, i) => i));

  const peer = run(process.execPath, ['--expose-gc', join(peersDirectory, 'kept-frame-functions.js'), JSON.stringify({ name })], { timeout: 50000 });
  const { code, signal, stdout, stderr } = await peer.done;

  assert.equal(code, 0, `the peer ended with ${signal ?? `code ${code}`}: ${stderr}`);
  const result = JSON.parse(stdout);
  assert.equal(result.collected, true, 'the NativeStream was never collected');
  assert.deepEqual(result.readBack, { count: 1, first: 0, last: 255 });
  assert.equal(result.published, true);
  assert.equal(result.closedError, 'stream is closed');
  assert.equal(stream.count, 2);
  assert.deepEqual(Array.from(new Set(stream.read())), [7]);
  stream.close();
});

test('handles garbage-collected without close() leak no mapping and no descriptor', { timeout: 60000 }, async (t) => {
  const names = [0, 1, 2, 3].map((i) => streamName(t, `gc-${i}`));
  for (const name of names) create(name, { shape: [1024], dtype: 'float64' }).close();

  const probe = run(process.execPath, ['--expose-gc', join(peersDirectory, 'gc-probe.js'), JSON.stringify({ names, handles: 200 })], { timeout: 60000 });
  const { code, stdout, stderr } = await probe.done;
  assert.equal(code, 0, stderr);
  const { before, during, after, leaked } = JSON.parse(stdout);
  assert.ok(during.mappings >= names.length, `the probe saw ${during.mappings} mappings while the handles lived`);
  assert.equal(after.mappings, before.mappings, 'mappings left after gc()');
  assert.equal(after.fds, before.fds, `descriptors left after gc(): ${leaked.join(', ')}`);
});
