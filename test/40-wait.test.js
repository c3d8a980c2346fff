// Waiting for new writes inside one process: what next(), readNew(),
// readNewSync() and frames() return, their timeout, abort and close paths,
// spinning, worker threads, libuv's thread pool, and the wake-up words of
// tsshmem's metadata extension area. Across processes: 41-wait-processes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { open as openFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { Extension, WAKE_SLOT_COUNT } from '../packages/tsshmem/dist/format/extension.js';
import { cliPath, peersDirectory, run, streamName } from './helpers.js';
import { creators, eventually, metaPath, metaWord, wakeSlotsOf } from './wait-helpers.js';

/** Wake slot states (src/native/wake_slots.h). */
const SLEEPING = 2;

const ELEMENTS = 4;
const frame = (n) => new Int32Array(ELEMENTS).fill(n);

/** A new int32 stream made by `origin`, with a writer handle and a reader handle on it. */
async function openPair(t, origin) {
  const name = streamName(t, `wait-${origin}`);
  await creators[origin](name, [ELEMENTS], 'int32');
  const writer = open(name);
  const reader = open(name);
  t.after(() => {
    writer.close();
    reader.close();
  });
  return { name, writer, reader };
}

/** { settled } turns true once promise settles; the promise itself is still the caller's to await. */
function track(promise) {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const isAbortError = { name: 'AbortError', code: 'ABORT_ERR' };
const isTimeout = { code: 'ETIMEDOUT' };
const isClosed = { code: 'ERR_STREAM_CLOSED' };

for (const origin of Object.keys(creators)) {
  describe(`waiting on a stream created by ${origin}`, () => {
    test('next(), readNew() and readNewSync() return a write that landed before the call without waiting (timeout 0)', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      writer.write(frame(1));
      assert.deepEqual(await reader.next({ timeout: 0 }), frame(1));
      writer.write(frame(2));
      assert.deepEqual(await reader.readNew({ timeout: 0 }), frame(2));
      writer.write(frame(3));
      assert.deepEqual(reader.readNewSync({ timeout: 0 }), frame(3));
      assert.equal(reader.lastReadCount, 3);
      assert.equal(reader.totalMissedWrites, 0);
    });

    test('a new handle has observed the writes made before it opened: next() waits for the next write', async (t) => {
      const { name, writer } = await openPair(t, origin);
      writer.write(frame(1));
      writer.write(frame(2));
      const late = open(name);
      t.after(() => late.close());
      assert.equal(late.lastReadCount, 2);
      await assert.rejects(late.next({ timeout: 0 }), isTimeout);
      writer.write(frame(3));
      assert.deepEqual(await late.next({ timeout: 0 }), frame(3));
      assert.equal(late.missedWrites, 0);
    });

    test('next() calls pending together on one handle are served in order, each with a newer write', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      const first = reader.next({ timeout: 20000 });
      const second = reader.next({ timeout: 20000 });
      const secondState = track(second);
      writer.write(frame(1));
      assert.deepEqual(await first, frame(1));
      await sleep(20);
      assert.equal(secondState.settled, false, 'the second call waits for a write newer than the one the first returned');
      writer.write(frame(2));
      assert.deepEqual(await second, frame(2));
    });

    test('read() counts as observing: a write already read is not returned again by next()', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      writer.write(frame(1));
      assert.deepEqual(reader.read(), frame(1));
      await assert.rejects(reader.next({ timeout: 0 }), isTimeout);
      writer.write(frame(2));
      assert.deepEqual(await reader.next({ timeout: 0 }), frame(2));
      assert.equal(reader.missedWrites, 0);
    });

    test('missedWrites counts the writes skipped between two observations; totalMissedWrites sums them', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      const observed = () => [reader.lastReadCount, reader.missedWrites, reader.totalMissedWrites];
      for (const n of [1, 2, 3]) writer.write(frame(n));
      assert.deepEqual(await reader.next({ timeout: 0 }), frame(3));
      assert.deepEqual(observed(), [3, 2, 2]);
      writer.write(frame(4));
      assert.deepEqual(await reader.readNew({ timeout: 0 }), frame(4));
      assert.deepEqual(observed(), [4, 0, 2]);
      for (const n of [5, 6, 7, 8, 9]) writer.write(frame(n));
      assert.deepEqual(reader.readNewSync({ timeout: 0 }), frame(9));
      assert.deepEqual(observed(), [9, 4, 6]);
      for (const n of [10, 11]) writer.write(frame(n));
      assert.deepEqual(reader.read(), frame(11));
      assert.deepEqual(observed(), [11, 1, 7]);
    });

    test('a pending next() resolves with the write that lands while it waits; timers keep running meanwhile', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      const pending = reader.next({ timeout: 20000 });
      const state = track(pending);
      await sleep(50); // a timer that fires only if the event loop is free
      assert.equal(state.settled, false, 'no write yet, so the wait is still pending');
      writer.write(frame(7));
      assert.deepEqual(await pending, frame(7));
      assert.equal(reader.lastReadCount, 1);
    });

    test('a wait with no new write within its timeout fails with ETIMEDOUT, not earlier, and keeps the baseline', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      const start = performance.now();
      await assert.rejects(reader.next({ timeout: 50 }), isTimeout);
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 49, `timed out after ${elapsed} ms, before its 50 ms`);
      await assert.rejects(reader.readNew({ timeout: 10 }), isTimeout);
      assert.throws(() => reader.readNewSync({ timeout: 10 }), isTimeout);
      assert.equal(reader.lastReadCount, 0);
      writer.write(frame(1));
      assert.deepEqual(await reader.next({ timeout: 0 }), frame(1));
      assert.equal(reader.missedWrites, 0);
    });

    test('an AbortSignal aborted before the call or during the wait rejects next() with AbortError; the handle keeps its place', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      await assert.rejects(reader.next({ signal: AbortSignal.abort() }), isAbortError);
      const controller = new AbortController();
      const pending = reader.next({ signal: controller.signal, timeout: 20000 });
      await sleep(20);
      const reason = new Error('no longer needed');
      controller.abort(reason);
      await assert.rejects(pending, { ...isAbortError, cause: reason });
      writer.write(frame(5));
      assert.deepEqual(await reader.next({ timeout: 0 }), frame(5));
      assert.deepEqual([reader.lastReadCount, reader.missedWrites], [1, 0]);
    });

    test('close() rejects a pending next() with ERR_STREAM_CLOSED, and every later wait fails the same way', async (t) => {
      const { reader } = await openPair(t, origin);
      const pending = reader.next({ timeout: 20000 });
      await sleep(20);
      reader.close();
      await assert.rejects(pending, isClosed);
      await assert.rejects(async () => reader.next(), isClosed);
      await assert.rejects(async () => reader.readNew(), isClosed);
      assert.throws(() => reader.readNewSync(), isClosed);
      await assert.rejects(async () => {
        for await (const _ of reader.frames()) assert.fail('a closed handle yields no frame');
      }, isClosed);
    });

    test('for await over frames() yields each new write and ends with AbortError when the signal aborts', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      const controller = new AbortController();
      const seen = [];
      writer.write(frame(1));
      await assert.rejects(async () => {
        for await (const received of reader.frames({ signal: controller.signal, timeout: 20000 })) {
          seen.push(received[0]);
          if (received[0] < 3) writer.write(frame(received[0] + 1));
          else setTimeout(() => controller.abort(), 20); // aborts a wait already pending
        }
      }, isAbortError);
      assert.deepEqual(seen, [1, 2, 3]);
    });

    test('readNew({ safe: false }) returns the live payload of a new write to a handle holding the lock', async (t) => {
      const { writer, reader } = await openPair(t, origin);
      writer.write(frame(4));
      reader.acquireSync();
      try {
        assert.deepEqual(await reader.readNew({ safe: false, timeout: 0 }), frame(4));
        assert.equal(reader.lastReadCount, 1);
      } finally {
        reader.release();
      }
    });
  });
}

const FUTEX_SYSCALL = { x64: 202, arm64: 98 }[process.arch];
const FUTEX_PRIVATE_FLAG = 0x80n;
const FUTEX_COMMAND_MASK = 0x7fn;
const FUTEX_WAITS = [0n, 9n]; // FUTEX_WAIT, FUTEX_WAIT_BITSET

/** Addresses of the notify word in every mapping of the stream's metadata object in this process. */
function notifyWordAddresses(name) {
  const path = metaPath(name);
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(path))
    .map((line) => {
      const [range, , fileOffset] = line.split(/\s+/);
      return BigInt(`0x${range.split('-')[0]}`) - BigInt(`0x${fileOffset}`) + BigInt(Extension.notifyWord);
    });
}

/** The futex operation of every thread of this process blocked in futex(2) on one of addresses. */
function futexWaitsOn(addresses) {
  const operations = [];
  for (const thread of readdirSync('/proc/self/task')) {
    let fields;
    try {
      fields = readFileSync(`/proc/self/task/${thread}/syscall`, 'utf8').trim().split(' ');
    } catch {
      continue; // the thread ended meanwhile
    }
    if (Number(fields[0]) === FUTEX_SYSCALL && addresses.includes(BigInt(fields[1]))) operations.push(BigInt(fields[2]));
  }
  return operations;
}

describe('wake-ups through the extension area (streams created by tsshmem)', () => {
  test('every tsshmem write bumps the notify word', async (t) => {
    const { name, writer } = await openPair(t, 'tsshmem');
    const before = metaWord(name, Extension.notifyWord);
    writer.write(frame(1));
    const after = metaWord(name, Extension.notifyWord);
    assert.notEqual(after, before);
    writer.clear();
    assert.notEqual(metaWord(name, Extension.notifyWord), after);
  });

  test('an extension area of a version this tsshmem does not know is left alone: writes bump no word, a waiting next() still gets them, info says why', async (t) => {
    const name = streamName(t, 'wait-future-extension');
    await creators.tsshmem(name, [ELEMENTS], 'int32');
    const metadata = await openFile(metaPath(name), 'r+');
    try {
      const version = Buffer.alloc(4);
      version.writeUInt32LE(2);
      await metadata.write(version, 0, 4, Extension.version);
    } finally {
      await metadata.close();
    }
    const writer = open(name);
    const reader = open(name);
    t.after(() => {
      writer.close();
      reader.close();
    });
    const pending = reader.next({ timeout: 10000 });
    writer.write(frame(7));
    assert.deepEqual(Array.from(await pending), Array.from(frame(7)));
    assert.equal(metaWord(name, Extension.notifyWord), 0, 'the notify word of an unknown layout is not touched');
    assert.equal(metaWord(name, Extension.wakeWaiting), 0, 'no wake slot is claimed in an unknown layout');
    const info = await run(process.execPath, [cliPath, 'info', name]).done;
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /tsshmem version 2, unknown to this tsshmem \(it knows version 1\): left unused/);
  });

  test('readNewSync() in a worker thread sleeps in a shared futex(2) wait on the notify word, returns the write the main thread makes meanwhile, and the worker exits normally', { timeout: 60000 }, async (t) => {
    const { name, writer } = await openPair(t, 'tsshmem');
    const worker = new Worker(join(peersDirectory, 'wait-worker.js'), { workerData: { name, timeout: 20000 } });
    t.after(() => worker.terminate());
    const messages = [];
    let futexOperations = [];
    let sleepersWhileWaiting;
    worker.on('message', async (message) => {
      messages.push(message);
      if (message !== 'waiting') return;
      // The main thread's timers run while the worker blocks.
      const addresses = notifyWordAddresses(name);
      await eventually(() => (futexOperations = futexWaitsOn(addresses)).length > 0);
      sleepersWhileWaiting = wakeSlotsOf(name, process.pid).filter((slot) => slot.state === SLEEPING).length;
      writer.write(frame(42));
    });
    const exitCode = await new Promise((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    assert.equal(exitCode, 0);
    assert.deepEqual(messages, ['waiting', { values: [42, 42, 42, 42], lastReadCount: 1 }, { settled: 'ETIMEDOUT' }]);
    assert.ok(futexOperations.length > 0, 'no thread slept in futex(2) on the notify word');
    for (const operation of futexOperations) {
      assert.ok(FUTEX_WAITS.includes(operation & FUTEX_COMMAND_MASK), `futex operation ${operation} is not a wait`);
      assert.equal(operation & FUTEX_PRIVATE_FLAG, 0n, 'a FUTEX_PRIVATE wait cannot be woken by another process');
    }
    assert.equal(sleepersWhileWaiting, 1, 'the sleeping thread marked its wake slot SLEEPING');
    assert.equal(metaWord(name, Extension.wakeWaiting), 0);
  });

  test('a pending next() marks its wake slot WAITING; the waiting count returns to 0 after waits resolve, time out, abort or close, and close() frees the slot', async (t) => {
    const { name, writer, reader } = await openPair(t, 'tsshmem');
    const waiting = () => metaWord(name, Extension.wakeWaiting);
    const states = () => wakeSlotsOf(name, process.pid).map((slot) => slot.state);
    assert.equal(waiting(), 0);

    const settleWhileWaiting = async (pending, settle) => {
      assert.ok(await eventually(() => waiting() === 1), 'the pending wait counts as waiting');
      assert.deepEqual(states(), [1], 'one wake slot of this process, WAITING');
      settle();
      await pending.catch(() => undefined);
      assert.equal(waiting(), 0);
      assert.ok(states().every((state) => state === 0), 'no slot of this process is left WAITING');
    };

    const resolved = reader.next({ timeout: 20000 });
    await settleWhileWaiting(resolved, () => writer.write(frame(1)));
    assert.deepEqual(await resolved, frame(1));

    const timedOut = reader.next({ timeout: 1000 });
    await settleWhileWaiting(timedOut, () => {});
    await assert.rejects(timedOut, isTimeout);

    const controller = new AbortController();
    const aborted = reader.next({ signal: controller.signal });
    await settleWhileWaiting(aborted, () => controller.abort());
    await assert.rejects(aborted, isAbortError);

    reader.close();
    assert.deepEqual(states(), [], 'close() frees the wake slot');

    const closing = open(name);
    t.after(() => closing.close());
    const closed = closing.next();
    await settleWhileWaiting(closed, () => closing.close());
    await assert.rejects(closed, isClosed);
    assert.deepEqual(states(), []);
  });

  test(`more handles awaiting one stream than it has wake slots (${WAKE_SLOT_COUNT}) all receive the write`, async (t) => {
    const { name, writer } = await openPair(t, 'tsshmem');
    const readers = Array.from({ length: WAKE_SLOT_COUNT + 6 }, () => open(name));
    t.after(() => readers.forEach((reader) => reader.close()));
    const waits = readers.map((reader) => reader.next({ timeout: 20000 }));
    await sleep(20);
    writer.write(frame(9));
    for (const received of await Promise.all(waits)) assert.deepEqual(received, frame(9));
    assert.equal(metaWord(name, Extension.wakeWaiting), 0);
  });
});

test('64 streams awaited at once leave libuv\'s thread pool free: fs.promises.readFile completes while all 64 wait', async (t) => {
  const pairs = await Promise.all(Array.from({ length: 64 }, () => openPair(t, 'tsshmem')));
  let settled = 0;
  const waits = pairs.map(({ reader }) => reader.next({ timeout: 30000 }).finally(() => settled++));
  await sleep(20);
  const start = performance.now();
  const text = await readFile(fileURLToPath(import.meta.url), 'utf8');
  // For the closing note: how long the thread pool took to serve the read (the
  // assertion is on order: it completed while every wait was still pending).
  t.diagnostic(`informal: readFile took ${(performance.now() - start).toFixed(1)} ms with 64 waits pending`);
  assert.match(text, /64 streams awaited at once/);
  assert.equal(settled, 0, 'the file read completed while every wait was still pending');
  pairs.forEach(({ writer }, index) => writer.write(frame(index)));
  (await Promise.all(waits)).forEach((received, index) => assert.deepEqual(received, frame(index)));
});

/** CPU milliseconds (user + system, whole process) that fn takes. */
async function cpuMsOf(fn) {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

test('a timeout or spin too long to count in nanoseconds (Number.MAX_SAFE_INTEGER) means no limit: next() waits for the write instead of timing out at once', async (t) => {
  const { writer, reader } = await openPair(t, 'tsshmem');
  const pending = reader.next({ timeout: Number.MAX_SAFE_INTEGER });
  const state = track(pending);
  await sleep(20);
  assert.equal(state.settled, false, 'the wait is still pending');
  writer.write(frame(1));
  assert.deepEqual(await pending, frame(1));
  writer.write(frame(2));
  assert.deepEqual(reader.readNewSync({ spin: Number.MAX_SAFE_INTEGER, timeout: Number.MAX_SAFE_INTEGER }), frame(2));
});

test('next() and readNewSync() check their read options before waiting: a wrong out, or safe: false without the lock, is refused at once, not after a write or the timeout', async (t) => {
  const { reader } = await openPair(t, 'tsshmem');
  await assert.rejects(reader.next({ out: new Float32Array(ELEMENTS), timeout: 100 }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => reader.readNewSync({ out: new Int32Array(ELEMENTS + 1), timeout: 100 }), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(reader.next({ safe: false, timeout: 100 }), { code: 'ERR_LOCK_NOT_HELD' });
  assert.throws(() => reader.readNewSync({ safe: false, timeout: 100 }), { code: 'ERR_LOCK_NOT_HELD' });
});

for (const history of [undefined, 4]) {
  const kind = history === undefined ? 'plain stream' : 'ring stream';
  test(`a next() queued behind another on the same handle honours its own signal and timeout while queued, and takes no frame once it gave up (${kind})`, async (t) => {
    const name = streamName(t, `queued-${history ?? 'plain'}`);
    const writer = create(name, { shape: [ELEMENTS], dtype: 'int32', ...(history === undefined ? {} : { history }) });
    const reader = open(name);
    t.after(() => {
      reader.close();
      writer.close();
    });
    const first = reader.next({ timeout: 20000 });
    const firstState = track(first);
    const controller = new AbortController();
    const aborted = reader.next({ signal: controller.signal });
    const timedOut = reader.next({ timeout: 50 });
    controller.abort();
    await assert.rejects(aborted, isAbortError);
    await assert.rejects(timedOut, isTimeout);
    assert.equal(firstState.settled, false, 'the queued calls gave up while the first still waited');
    writer.write(frame(1));
    assert.deepEqual(await first, frame(1));
    const next = reader.next({ timeout: 20000 });
    writer.write(frame(2));
    assert.deepEqual(await next, frame(2), 'the calls that gave up took no frame');
    assert.equal(reader.missedWrites, 0);
  });
}

test('a next() queued with a timeout past the longest timer (2^31-1 ms) waits its turn: it does not time out after 1 ms', async (t) => {
  const { writer, reader } = await openPair(t, 'tsshmem');
  const first = reader.next({ timeout: 20000 });
  const long = reader.next({ timeout: 2 ** 31 });
  const longState = track(long);
  // Queued behind both, it times out after 50 ms: long time for a wrongly clamped 1 ms timer to have fired.
  await assert.rejects(reader.next({ timeout: 50 }), isTimeout);
  assert.equal(longState.settled, false, 'the long-timeout call gave up while queued');
  writer.write(frame(1));
  assert.deepEqual(await first, frame(1));
  writer.write(frame(2));
  assert.deepEqual(await long, frame(2));
});

test('spin busy-waits on the calling thread before sleeping; fractions of a millisecond are accepted', async (t) => {
  const { writer, reader } = await openPair(t, 'tsshmem');
  // Loose bounds on CPU time, not on speed: a 300 ms spin on a shared 2-core
  // machine still gets a fifth of a core; a 400 ms sleep costs a few ms.
  const spinningSync = await cpuMsOf(() => assert.throws(() => reader.readNewSync({ spin: 300, timeout: 400 }), isTimeout));
  const sleepingSync = await cpuMsOf(() => assert.throws(() => reader.readNewSync({ timeout: 400 }), isTimeout));
  const spinningAsync = await cpuMsOf(() => assert.rejects(reader.next({ spin: 300, timeout: 400 }), isTimeout));
  // The figures the loose bounds below check, printed so a failure on a slow machine can be judged.
  t.diagnostic(
    `informal: CPU ${spinningSync.toFixed(1)} ms for readNewSync spinning 300 ms, ${sleepingSync.toFixed(1)} ms sleeping 400 ms; ` +
      `${spinningAsync.toFixed(1)} ms for next() spinning 300 ms`,
  );
  assert.ok(spinningSync >= 60, `readNewSync({ spin: 300 }) used only ${spinningSync} ms of CPU`);
  assert.ok(sleepingSync < spinningSync / 2, `sleeping used ${sleepingSync} ms of CPU, spinning ${spinningSync} ms`);
  assert.ok(spinningAsync >= 60, `next({ spin: 300 }) used only ${spinningAsync} ms of CPU`);

  writer.write(frame(1));
  assert.deepEqual(reader.readNewSync({ spin: 0.05, timeout: 1000 }), frame(1));
  writer.write(frame(2));
  assert.deepEqual(await reader.next({ spin: 0.5, timeout: 1000 }), frame(2));
  const pending = reader.next({ spin: 0.25, timeout: 20000 }); // spins out, then sleeps
  setTimeout(() => writer.write(frame(3)), 20);
  assert.deepEqual(await pending, frame(3));
});
