import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { lockFromChild, settledTracker, startNodePeer, streamName, waitForSyscall } from './helpers.js';

/** A child process holding the lock of name `depth` times; `release()` releases it once. */
async function lockHolder(t, name, depth = 1) {
  const holder = startNodePeer(t, 'lock-holder.js', { name, depth }, { timeout: 60000 });
  await holder.lines.waitFor('locked', 20000);
  return {
    ...holder,
    release: async (left) => {
      holder.child.stdin.write('release\n');
      await holder.lines.waitFor(`released ${left}`, 20000);
    },
  };
}

/** Asserts that acquire({ timeout }) fails with ETIMEDOUT; returns how long it took. */
async function assertAcquireTimesOut(stream, timeout, pollInterval) {
  const started = performance.now();
  await assert.rejects(stream.acquire({ timeout, pollInterval }), (error) => {
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, new RegExp(`${timeout} ms`));
    return true;
  });
  return performance.now() - started;
}

test('acquire() blocks while another process holds the lock and returns once it releases', async (t) => {
  const name = streamName(t, 'blocks');
  const stream = create(name, { shape: [1] });
  const holder = await lockHolder(t, name);

  const acquired = stream.acquire({ timeout: 20000 });
  const settled = settledTracker(acquired);
  await delay(300);
  assert.equal(settled(), false, 'acquire() returned while the other process held the lock');
  await holder.release(0);
  await acquired;
  assert.equal(stream.holdsLock, true);
  stream.release();
  stream.close();
});

test('acquire() with a timeout fails with ETIMEDOUT in time while another process holds the lock', async (t) => {
  const name = streamName(t, 'timeout');
  const stream = create(name, { shape: [1] });
  const holder = await lockHolder(t, name);

  const elapsed = await assertAcquireTimesOut(stream, 200);
  assert.ok(elapsed >= 150 && elapsed < 2000, `failed after ${elapsed} ms`);
  const polled = await assertAcquireTimesOut(stream, 300, 50);
  assert.ok(polled >= 250 && polled < 2500, `failed after ${polled} ms`);
  assert.equal(stream.holdsLock, false);
  await holder.release(0);
  stream.close();
});

test('the timeout error names the pid holding the lock', async (t) => {
  const name = streamName(t, 'owner');
  const stream = create(name, { shape: [1] });
  const holder = await lockHolder(t, name);
  await assert.rejects(stream.acquire({ timeout: 50, pollInterval: 10 }), (error) => {
    assert.ok(error.message.includes(`pid ${holder.child.pid}`), error.message);
    return true;
  });
  await holder.release(0);
  stream.close();
});

test('a write from another process waits until this process releases the lock', async (t) => {
  const name = streamName(t, 'write-waits');
  const stream = create(name, { shape: [16], dtype: 'int32' });
  await stream.acquire();
  const writer = startNodePeer(t, 'constant-writer.js', { name, frames: 1, announce: true });
  await writer.lines.waitFor('about to write', 20000);
  // Its write found the lock taken and now polls it: flock tries between short sleeps.
  await waitForSyscall(writer, ['flock', 'nanosleep', 'clock_nanosleep'], { what: "the write's lock wait" });
  assert.equal(stream.count, 0, 'the other process wrote while this one held the lock');
  stream.release();
  assert.equal((await writer.done).code, 0);
  assert.equal(stream.count, 1);
  assert.deepEqual(stream.read(), new Int32Array(16).fill(2));
  stream.close();
});

test('a process killed (SIGKILL) while holding the lock releases it', async (t) => {
  const name = streamName(t, 'killed');
  const stream = create(name, { shape: [2] });
  const holder = await lockHolder(t, name);
  await assertAcquireTimesOut(stream, 100);

  holder.child.kill('SIGKILL');
  assert.equal((await holder.done).signal, 'SIGKILL');
  await stream.acquire({ timeout: 5000 });
  stream.write([1, 2]);
  stream.release();
  assert.deepEqual(stream.read(), Float32Array.of(1, 2));
  stream.close();
});

test('release() without acquire() fails and reports the lock as unlocked', (t) => {
  const stream = create(streamName(t, 'release'), { shape: [1] });
  assert.throws(() => stream.release(), (error) => {
    assert.equal(error.code, 'ERR_LOCK_NOT_HELD');
    assert.match(error.message, /unlocked/);
    return true;
  });
  assert.equal(stream.holdsLock, false);
  stream.close();
});

test('a re-entrant acquire needs as many releases before another process can take the lock', async (t) => {
  const name = streamName(t, 'reentrant');
  const stream = create(name, { shape: [1] });
  const other = open(name);
  await stream.acquire();
  await stream.acquire({ timeout: 100 });
  other.acquireSync({ timeout: 100 });
  assert.equal(stream.holdsLock, true);

  const outcomes = [];
  for (let depth = 3; depth > 0; depth--) {
    outcomes.push(await lockFromChild(t, name));
    (depth % 2 === 0 ? other : stream).release();
  }
  assert.deepEqual(outcomes, ['busy', 'busy', 'busy']);
  assert.equal(await lockFromChild(t, name), 'locked');
  assert.equal(stream.holdsLock, false);
  assert.throws(() => stream.release(), { code: 'ERR_LOCK_NOT_HELD' });

  other.close();
  stream.close();
});

test('a child holding the lock twice keeps it until its second release', async (t) => {
  const name = streamName(t, 'reentrant-child');
  const stream = create(name, { shape: [1] });
  const holder = await lockHolder(t, name, 2);
  await holder.release(1);
  await assertAcquireTimesOut(stream, 200);
  await holder.release(0);
  await stream.acquire({ timeout: 5000 });
  stream.release();
  stream.close();
});

test('lock() returns a Disposable that releases the lock once', async (t) => {
  const name = streamName(t, 'dispose');
  const stream = create(name, { shape: [1] });
  const lock = stream.lock({ timeout: 1000 });
  assert.equal(stream.holdsLock, true);
  assert.equal(typeof lock[Symbol.dispose], 'function');
  lock[Symbol.dispose]();
  assert.equal(stream.holdsLock, false);
  lock[Symbol.dispose]();
  lock.release();
  assert.throws(() => stream.release(), { code: 'ERR_LOCK_NOT_HELD' });

  const holder = await lockHolder(t, name);
  assert.throws(() => stream.lock({ timeout: 100 }), { code: 'ETIMEDOUT' });
  await holder.release(0);
  stream.close();
});

test('locked(fn) runs fn under the lock, returns its result and releases even when fn throws', async (t) => {
  const name = streamName(t, 'locked');
  const stream = create(name, { shape: [2], dtype: 'int32' });
  const result = await stream.locked(() => {
    assert.equal(stream.holdsLock, true);
    stream.write([1, 2]);
    return stream.read({ safe: false })[1];
  });
  assert.equal(result, 2);
  assert.equal(stream.holdsLock, false);

  assert.equal(await stream.locked(async () => (await delay(10), 'async result')), 'async result');
  await assert.rejects(stream.locked(() => {
    throw new Error('inside');
  }), /inside/);
  assert.equal(stream.holdsLock, false);
  await assert.rejects(stream.locked('not a function'), { code: 'ERR_INVALID_ARG_TYPE' });

  assert.equal(await lockFromChild(t, name), 'locked');
  stream.close();
});

test("close() inside locked(fn) gives the handle's entry back so another process can take the lock, and locked() settles with fn's outcome", async (t) => {
  const name = streamName(t, 'locked-close');
  const writer = create(name, { shape: [1] });
  t.after(() => writer.close());

  const closer = open(name);
  assert.equal(await closer.locked(async () => (closer.close(), 42)), 42);
  assert.equal(writer.holdsLock, false);
  assert.equal(await lockFromChild(t, name, 2000), 'locked', 'the flock was given back');

  const failing = open(name);
  await assert.rejects(failing.locked(() => {
    failing.close();
    throw new Error('inside');
  }), /^Error: inside$/);
  assert.equal(await lockFromChild(t, name, 2000), 'locked');

  // An entry this thread took through another handle outlives the closed one.
  await writer.acquire();
  const nested = open(name);
  assert.equal(await nested.locked(() => (nested.close(), 'nested')), 'nested');
  assert.equal(writer.holdsLock, true);
  assert.equal(await lockFromChild(t, name), 'busy');
  writer.release();
  assert.equal(writer.holdsLock, false);
  assert.equal(await lockFromChild(t, name, 2000), 'locked');
});

test('a lock() disposed after its handle closed does not throw, and the lock is free for other processes', async (t) => {
  const name = streamName(t, 'lock-dispose-closed');
  const writer = create(name, { shape: [1] });
  t.after(() => writer.close());
  const stream = open(name);
  const held = stream.lock();
  stream.close();
  held[Symbol.dispose]();
  held.release();
  assert.equal(writer.holdsLock, false);
  assert.equal(await lockFromChild(t, name, 2000), 'locked');
  assert.throws(() => stream.release(), { code: 'ERR_STREAM_CLOSED' });
});

test('close() during acquire() waiting for a lock another process holds rejects it with ERR_STREAM_CLOSED', async (t) => {
  const name = streamName(t, 'acquire-closed');
  const stream = create(name, { shape: [1] });
  const holder = await lockHolder(t, name);
  const acquiring = stream.acquire({ timeout: 20000 });
  await delay(20);
  stream.close();
  await assert.rejects(acquiring, { code: 'ERR_STREAM_CLOSED', message: /reopen it with open/ });
  await holder.release(0);
});
