// writeAsync() and clearAsync(): a write that waits for a lock held by
// another process without blocking the event loop, then writes; or, on
// abort or timeout, writes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { AbortError, create } from '../packages/tsshmem/dist/index.js';
import { settledTracker, startNodePeer, streamName } from './helpers.js';

/** A stream of 4 float32 with one write of 1s, and a child process holding its lock. */
async function streamLockedElsewhere(t, label) {
  const name = streamName(t, label);
  const stream = create(name, { shape: [4] });
  t.after(() => stream.close());
  stream.write([1, 1, 1, 1]);
  const holder = startNodePeer(t, 'lock-holder.js', { name }, { timeout: 60000 });
  await holder.lines.waitFor('locked', 20000);
  return { stream, holder };
}

/** Counts timer callbacks while the promise is pending: proof that the event loop keeps running. */
async function ticksWhilePending(promise, ms) {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  await sleep(ms);
  clearInterval(interval);
  return ticks;
}

test('writeAsync() waits for a lock another process holds while the event loop keeps running, and the write lands once it is released', { timeout: 60000 }, async (t) => {
  const { stream, holder } = await streamLockedElsewhere(t, 'write-async');
  const writing = stream.writeAsync([2, 3, 4, 5]);
  const settled = settledTracker(writing);
  const ticks = await ticksWhilePending(writing, 50);
  assert.ok(ticks > 5, `timers fired ${ticks} times while the write waited`);
  assert.equal(settled(), false, 'the write waits while the lock is held');
  assert.equal(stream.count, 1, 'nothing written while the lock is held');
  holder.child.stdin.end('release\n');
  await holder.lines.waitFor('released 0', 20000);
  await writing;
  assert.equal(stream.count, 2);
  assert.deepEqual(Array.from(stream.read()), [2, 3, 4, 5]);
  assert.equal(stream.holdsLock, false);
  const { code, stderr } = await holder.done;
  assert.equal(code, 0, stderr);

  await stream.clearAsync();
  assert.equal(stream.count, 3);
  assert.deepEqual(Array.from(stream.read()), [0, 0, 0, 0]);
});

test('writeAsync() and clearAsync() rejected by their AbortSignal reject with AbortError and write nothing', { timeout: 60000 }, async (t) => {
  const { stream } = await streamLockedElsewhere(t, 'write-async-abort');
  const controller = new AbortController();
  const writing = stream.writeAsync([9, 9, 9, 9], { signal: controller.signal });
  const clearing = stream.clearAsync({ signal: controller.signal });
  await ticksWhilePending(writing, 20);
  controller.abort(new Error('shutting down'));
  await assert.rejects(writing, (error) => error instanceof AbortError && error.code === 'ABORT_ERR' && error.cause.message === 'shutting down');
  await assert.rejects(clearing, { name: 'AbortError' });
  await assert.rejects(stream.writeAsync([9, 9, 9, 9], { signal: controller.signal }), { name: 'AbortError' }, 'an aborted signal refuses at once');
  assert.equal(stream.count, 1);
  assert.equal(stream.holdsLock, false);
});

test('writeAsync() times out with ETIMEDOUT naming the holder and writes nothing', { timeout: 60000 }, async (t) => {
  const { stream, holder } = await streamLockedElsewhere(t, 'write-async-timeout');
  await assert.rejects(stream.writeAsync([9, 9, 9, 9], { timeout: 50 }), (error) => {
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /timed out after 50 ms waiting for the lock of stream/);
    assert.match(error.message, new RegExp(`held by pid ${holder.child.pid}`));
    return true;
  });
  await assert.rejects(stream.clearAsync({ timeout: 20 }), { code: 'ETIMEDOUT' });
  assert.equal(stream.count, 1);
  assert.deepEqual(Array.from(stream.read()), [1, 1, 1, 1]);
});

test('writeAsync() refuses a value of the wrong shape, and a bad timeout or signal, changing nothing', async (t) => {
  const stream = create(streamName(t, 'write-async-args'), { shape: [4] });
  t.after(() => stream.close());
  await assert.rejects(stream.writeAsync([1, 2, 3]), { code: 'ERR_SHAPE_MISMATCH' });
  await assert.rejects(stream.writeAsync([1, 2, 3, 4], { timeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(stream.writeAsync([1, 2, 3, 4], { signal: 'no' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.equal(stream.count, 0);
});

test('close() during writeAsync() and clearAsync() waiting for the lock rejects them with ERR_STREAM_CLOSED', { timeout: 60000 }, async (t) => {
  const { stream } = await streamLockedElsewhere(t, 'write-async-closed');
  const closed = { code: 'ERR_STREAM_CLOSED', message: /reopen it with open/ };
  const writing = assert.rejects(stream.writeAsync([9, 9, 9, 9]), closed);
  const clearing = assert.rejects(stream.clearAsync(), closed);
  await sleep(20);
  stream.close();
  await writing;
  await clearing;
  assert.equal(stream.closed, true);
});
