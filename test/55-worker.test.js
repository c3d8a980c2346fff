// The addon is context-aware: worker_threads load it and use streams while
// the main thread does too (test/peers/worker.js).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { create } from '../packages/tsshmem/dist/index.js';
import { heldResources, peersDirectory, run, settledTracker, streamName } from './helpers.js';

/** A worker running task; `messages` yields what it posts; terminated after the test. */
function startWorker(t, workerData) {
  const worker = new Worker(join(peersDirectory, 'worker.js'), { workerData });
  const posted = [];
  const waiting = [];
  worker.on('message', (message) => (waiting.length > 0 ? waiting.shift().resolve(message) : posted.push(message)));
  worker.on('error', (error) => waiting.splice(0).forEach(({ reject }) => reject(error)));
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  t.after(async () => {
    await worker.terminate();
  });
  return {
    exited,
    postMessage: (message) => worker.postMessage(message),
    next: () => (posted.length > 0 ? Promise.resolve(posted.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject }))),
  };
}

test('a worker thread opens and reads a stream while the main thread writes', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-read');
  const stream = create(name, { shape: [4096], dtype: 'int32' });
  const last = 60;
  const worker = startWorker(t, { task: 'read-until', name, last });
  assert.equal(await worker.next(), 'opened');

  const frame = new Int32Array(4096);
  for (let n = 1; n <= last; n++) {
    stream.write(frame.fill(n));
    await delay(2);
  }
  const { frames, torn, last: seen } = await worker.next();
  assert.equal(seen, last);
  assert.equal(torn, 0);
  assert.ok(frames >= 1 && frames <= last, `${frames} frames`);
  assert.equal(await worker.exited, 0);
  assert.deepEqual(stream.read(), frame);
  stream.close();
});

test("a worker thread's acquire waits for the main thread's release", { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-lock');
  const stream = create(name, { shape: [1] });
  await stream.acquire();

  const refused = startWorker(t, { task: 'acquire', name, timeout: 300 });
  assert.equal(await refused.next(), 'opened');
  assert.equal(await refused.next(), 'busy');
  assert.equal(await refused.next(), 'ETIMEDOUT');

  const waiting = startWorker(t, { task: 'acquire', name, timeout: 20000 });
  assert.equal(await waiting.next(), 'opened');
  assert.equal(await waiting.next(), 'busy', 'the worker found the lock free while the main thread held it');
  const outcome = waiting.next();
  const settled = settledTracker(outcome);
  await delay(300);
  assert.equal(settled(), false, "the worker's acquire returned while the main thread held the lock");
  stream.release();
  assert.equal(await outcome, 'acquired');
  assert.equal(await waiting.exited, 0);
  await stream.acquire({ timeout: 5000 });
  stream.release();
  stream.close();
});

test('a worker that ends without closing its handles leaves no mapping and no descriptor behind', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-abandon');
  create(name, { shape: [1024], dtype: 'float64' }).close();
  const before = heldResources(name);
  assert.deepEqual(before, { descriptors: [], mappings: 0 });

  const worker = startWorker(t, { task: 'abandon', name, handles: 20 });
  assert.equal(await worker.next(), 'opened');
  assert.ok(heldResources(name).mappings > 0, 'the worker mapped nothing');
  worker.postMessage('end');
  assert.equal(await worker.next(), 'ending');
  assert.equal(await worker.exited, 0);
  await delay(50);
  assert.deepEqual(heldResources(name), before);
});

test('a worker that ends while holding the lock releases it', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-hold');
  const stream = create(name, { shape: [1] });
  const worker = startWorker(t, { task: 'hold', name });
  assert.equal(await worker.next(), 'locked');
  assert.equal(await worker.exited, 0);
  await stream.acquire({ timeout: 5000 });
  stream.release();
  stream.close();
});

test('a worker thread that creates, opens, reads and closes streams prints no warning', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-quiet');
  const library = new URL('../packages/tsshmem/dist/index.js', import.meta.url).href;
  const workerCode = `
    import(${JSON.stringify(library)}).then(({ create, open }) => {
      const created = create(${JSON.stringify(name)}, { shape: [8], dtype: 'float64' });
      created.write(new Float64Array(8).fill(1));
      const opened = open(${JSON.stringify(name)});
      if (opened.read()[0] !== 1) throw new Error('read the wrong frame');
      opened.close();
      created.close();
    });`;
  const main = `
    const { Worker } = require('node:worker_threads');
    new Worker(${JSON.stringify(workerCode)}, { eval: true }).on('exit', (code) => process.exit(code));`;
  const { code, stdout, stderr } = await run(process.execPath, ['-e', main]).done;
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '');
  assert.equal(stderr, '');
});
