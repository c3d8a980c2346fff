// A writer that dies or freezes in the middle of a write, and a lock holder
// that dies: real child processes, real SIGKILL and SIGSTOP.
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync } from 'node:fs';
import { test } from 'node:test';

import { create, DEFAULT_READ_TIMEOUT, DEFAULT_WRITE_TIMEOUT, open } from '../packages/tsshmem/dist/index.js';
import { Field, isStopped, metaPath, rawField, shmErrorOf, track, waitUntil } from './fault-helpers.js';
import { runNodePeer, runPythonPeer, streamName } from './helpers.js';

const isOdd = (sequence) => sequence % 2 === 1;

function allEqual(array, value) {
  for (let i = 0; i < array.length; i++) if (array[i] !== value) return false;
  return true;
}

/** A stream of shape [4, 4] with one completed write of 1..16. */
function smallStream(t, label) {
  const name = streamName(t, label);
  const stream = create(name, { shape: [4, 4], dtype: 'float32' });
  t.after(() => stream.close());
  stream.write(Float32Array.from({ length: 16 }, (_, i) => i + 1));
  return { name, stream };
}

// --- 1. A writer killed mid-write -------------------------------------------

const INTERRUPTED_READ_TIMEOUT = 60000;

/** Checks the state a writer that died mid-write leaves, and what read() makes of it. */
function assertInterrupted(stream, name, { count }) {
  assert.ok(isOdd(rawField(name, Field.writeSequence)), 'the dead writer left the sequence odd');
  assert.equal(rawField(name, Field.count), count, 'the interrupted write was not counted');
  // Detected, not waited out: with nobody holding the lock an odd sequence
  // is a dead writer, known at the first try of the lock. A read that waited
  // for the sequence to turn even would give up only at its timeout, which is
  // set ten times the bound here.
  const { error, elapsed } = shmErrorOf(() => stream.read({ timeout: INTERRUPTED_READ_TIMEOUT }), 'ERR_WRITE_INTERRUPTED');
  assert.ok(elapsed < INTERRUPTED_READ_TIMEOUT / 10, `read() took ${elapsed} ms of its ${INTERRUPTED_READ_TIMEOUT} ms timeout`);
  assert.match(error.message, /interrupted write/);
  assert.match(error.message, /died mid-write/);
  assert.match(error.message, new RegExp(`write sequence ${rawField(name, Field.writeSequence)} is odd`));
  assert.match(error.message, /repair\(\)/);
  assert.match(error.message, /allowInterrupted/);
  // Still the same state: a failed read changes nothing.
  assert.ok(isOdd(rawField(name, Field.writeSequence)));
}

for (const [how, then] of [
  ['exits', 'exit'],
  ['is killed with SIGKILL', 'wait'],
]) {
  test(`a Node writer that ${how} after marking a write started: read() fails with ERR_WRITE_INTERRUPTED, the next write repairs it`, async (t) => {
    const { name, stream } = smallStream(t, 'crash-node');
    const child = track(t, runNodePeer('fault_peer.js', { action: 'odd', name, fill: 99, then }));
    await child.lines.waitFor('odd');
    if (then === 'wait') process.kill(child.child.pid, 'SIGKILL');
    const exit = await child.done;
    assert.equal(exit.signal, then === 'wait' ? 'SIGKILL' : null, exit.stderr);
    assertInterrupted(stream, name, { count: 1 });

    // allowInterrupted returns the payload as the dead writer left it: half new, half old.
    const asItIs = stream.read({ allowInterrupted: true });
    assert.deepEqual(Array.from(asItIs), [99, 99, 99, 99, 99, 99, 99, 99, 9, 10, 11, 12, 13, 14, 15, 16]);
    assert.ok(isOdd(stream.writeSequence), 'reading with allowInterrupted does not repair');

    // The next write restores parity and publishes normally.
    stream.write(new Float32Array(16).fill(5));
    assert.ok(!isOdd(rawField(name, Field.writeSequence)), 'the next write restored an even sequence');
    assert.equal(stream.count, 2);
    assert.deepEqual(Array.from(stream.read()), new Array(16).fill(5));
    // A tsshmem reader in another handle and a pyshmem reader work again.
    const other = open(name);
    t.after(() => other.close());
    assert.deepEqual(Array.from(other.read()), new Array(16).fill(5));
    const python = await runPythonPeer('read', { name }, { timeout: 30000 }).done;
    assert.equal(python.code, 0, `the Python safe read did not finish: ${python.signal} ${python.stderr}`);
    const seen = JSON.parse(python.stdout);
    assert.deepEqual(seen.values, new Array(16).fill(5));
    assert.equal(seen.count, 2);
    assert.equal(seen.write_sequence % 2, 0);
  });
}

test('a writer killed mid-write: repair() restores parity without writing; count and payload stay', async (t) => {
  const { name, stream } = smallStream(t, 'crash-repair');
  const child = track(t, runNodePeer('fault_peer.js', { action: 'odd', name, fill: 42, then: 'sigkill' }));
  const exit = await child.done;
  assert.equal(exit.signal, 'SIGKILL', exit.stderr);
  assert.match(exit.stdout, /odd/);
  assertInterrupted(stream, name, { count: 1 });
  const sequenceBefore = rawField(name, Field.writeSequence);

  assert.equal(stream.repair(), true, 'a repair was needed');
  assert.equal(rawField(name, Field.writeSequence), sequenceBefore + 1);
  assert.equal(rawField(name, Field.count), 1, 'repair() does not count as a write');
  assert.equal(stream.repair(), false, 'nothing left to repair');
  assert.equal(rawField(name, Field.writeSequence), sequenceBefore + 1);
  assert.equal(stream.holdsLock, false, 'repair() released the lock');
  assert.equal(rawField(name, Field.lockOwnerPid), 0);

  const expected = [42, 42, 42, 42, 42, 42, 42, 42, 9, 10, 11, 12, 13, 14, 15, 16];
  assert.deepEqual(Array.from(stream.read()), expected, 'read() works again and returns the payload as it was left');
  const python = await runPythonPeer('read', { name }, { timeout: 30000 }).done;
  assert.equal(python.code, 0, `the Python safe read did not finish: ${python.signal} ${python.stderr}`);
  assert.deepEqual(JSON.parse(python.stdout).values, expected);
  assert.equal(JSON.parse(python.stdout).count, 1);
});

test('a pyshmem writer killed mid-write (Python peer): ERR_WRITE_INTERRUPTED, then a Node write repairs it for Python too', async (t) => {
  const { name, stream } = smallStream(t, 'crash-python');
  const exit = await track(t, runPythonPeer('crash-mid-write', { name, fill: -1 }, { timeout: 30000 })).done;
  assert.equal(exit.signal, 'SIGKILL', exit.stderr);
  assertInterrupted(stream, name, { count: 1 });
  assert.deepEqual(Array.from(stream.read({ allowInterrupted: true })), [-1, -1, -1, -1, -1, -1, -1, -1, 9, 10, 11, 12, 13, 14, 15, 16]);
  stream.write(new Float32Array(16).fill(3));
  const python = await runPythonPeer('read', { name }, { timeout: 30000 }).done;
  assert.equal(python.code, 0, `the Python safe read did not finish: ${python.signal} ${python.stderr}`);
  assert.deepEqual(JSON.parse(python.stdout).values, new Array(16).fill(3));
});

/**
 * Starts a Node child writing large frames back to back (frame k filled with
 * k), polls the raw metadata bytes until the sequence is odd, then sends
 * signal. The signal can land just after the write finished, so this retries
 * with a new child until the sequence stays odd. Resolves with the child.
 */
async function signalMidWrite(t, name, signal, attempts = 8) {
  const fd = openSync(metaPath(name), 'r');
  t.after(() => closeSync(fd));
  const field = Buffer.alloc(8);
  const sequence = () => {
    readSync(fd, field, 0, 8, Field.writeSequence * 8);
    return field.readDoubleLE(0);
  };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const child = track(t, runNodePeer('fault_peer.js', { action: 'write-loop', name }, { timeout: 120000 }));
    await child.lines.waitFor('writing', 60000);
    const deadline = Date.now() + 20000;
    while (!isOdd(sequence()) && Date.now() < deadline);
    process.kill(child.child.pid, signal);
    if (signal === 'SIGKILL') await child.done;
    else await waitUntil(() => isStopped(child.child.pid), 20000, 'the child to stop');
    if (isOdd(sequence())) return { child, attempt };
    // The write finished before the signal landed: try again.
    if (signal === 'SIGSTOP') process.kill(child.child.pid, 'SIGKILL');
    await child.done;
  }
  throw new Error(`the sequence never stayed odd after ${signal} in ${attempts} attempts`);
}

// 4000 x 4000 float32 is 64 MB: one write takes some 10 ms or more, a wide
// window to land a signal in, while two of them (the segment, the child's
// frame, the parent's copy) stay modest on a shared 2-core machine with 24 GiB.
// 10000 x 10000 (381 MiB per copy, over 1 GiB in all) would only be slower.
const LARGE = [4000, 4000];

test('a Node writer SIGKILLed in the middle of a 64 MB write: no hang, ERR_WRITE_INTERRUPTED, allowInterrupted, repair by writing', async (t) => {
  const name = streamName(t, 'sigkill-large');
  const stream = create(name, { shape: LARGE, dtype: 'float32' });
  t.after(() => stream.close());
  const { child, attempt } = await signalMidWrite(t, name, 'SIGKILL');
  // How many tries landing the signal mid-write took here: for whoever tunes signalMidWrite's attempts.
  t.diagnostic(`the sequence stayed odd after SIGKILL on attempt ${attempt}`);
  assert.equal((await child.done).signal, 'SIGKILL');
  const count = rawField(name, Field.count);
  assert.ok(count >= 1);
  assert.equal(rawField(name, Field.lockOwnerPid), child.child.pid, 'the dead writer is still recorded as lock owner');

  assertInterrupted(stream, name, { count });
  // The payload as it is: frame `count` partly overwritten by frame count + 1.
  const asItIs = stream.read({ allowInterrupted: true });
  assert.equal(asItIs.length, 4000 * 4000);
  for (let i = 0; i < asItIs.length; i++) {
    if (asItIs[i] !== count && asItIs[i] !== count + 1) assert.fail(`element ${i} is ${asItIs[i]}, neither frame ${count} nor ${count + 1}`);
  }

  stream.write(new Float32Array(4000 * 4000).fill(-7));
  assert.ok(!isOdd(rawField(name, Field.writeSequence)));
  assert.equal(rawField(name, Field.count), count + 1);
  assert.ok(allEqual(stream.read(), -7));
  const python = await runPythonPeer('read-summary', { name }, { timeout: 60000 }).done;
  assert.equal(python.code, 0, `the Python safe read did not finish: ${python.signal} ${python.stderr}`);
  assert.deepEqual(JSON.parse(python.stdout), {
    count: count + 1,
    write_sequence: rawField(name, Field.writeSequence),
    length: 4000 * 4000,
    min: -7,
    max: -7,
    uniform: true,
  });
});

test('a Node writer SIGKILLed in the middle of a 64 MB write: repair() without writing, then Python reads', async (t) => {
  const name = streamName(t, 'sigkill-repair');
  const stream = create(name, { shape: LARGE, dtype: 'float32' });
  t.after(() => stream.close());
  await signalMidWrite(t, name, 'SIGKILL');
  const count = rawField(name, Field.count);
  assertInterrupted(stream, name, { count });
  const before = stream.read({ allowInterrupted: true });
  assert.equal(stream.repair(), true);
  assert.equal(rawField(name, Field.count), count, 'repair() does not count as a write');
  assert.ok(!isOdd(rawField(name, Field.writeSequence)));
  assert.deepEqual(stream.read(), before, 'repair() leaves the payload as it was');
  const python = await runPythonPeer('read-summary', { name }, { timeout: 60000 }).done;
  assert.equal(python.code, 0, `the Python safe read did not finish: ${python.signal} ${python.stderr}`);
  const seen = JSON.parse(python.stdout);
  assert.equal(seen.count, count);
  assert.equal(seen.write_sequence, rawField(name, Field.writeSequence));
});

// --- 2. A writer frozen mid-write ---------------------------------------------

/** Checks that a frozen writer holding the lock makes reads and writes time out, not hang. */
function assertFrozen(t, stream, name, pid) {
  assert.ok(isOdd(rawField(name, Field.writeSequence)));
  assert.deepEqual(stream.lockInfo(), { locked: true, ownerPid: pid, heldByThisThread: false });

  const read = shmErrorOf(() => stream.read({ timeout: 1500 }), 'ETIMEDOUT');
  assert.ok(read.elapsed >= 1400 && read.elapsed < 1500 + 10000, `read({ timeout: 1500 }) returned after ${read.elapsed} ms`);
  assert.match(read.error.message, /timed out after 1500 ms/);
  assert.match(read.error.message, new RegExp(`by pid ${pid}`));
  // allowInterrupted is for dead writers only: a live (frozen) one still times out.
  shmErrorOf(() => stream.read({ timeout: 300, allowInterrupted: true }), 'ETIMEDOUT');
  const write = shmErrorOf(() => stream.write(new Float32Array(stream.size / 4), { timeout: 500 }), 'ETIMEDOUT');
  assert.ok(write.elapsed >= 450 && write.elapsed < 500 + 10000, `write({ timeout: 500 }) returned after ${write.elapsed} ms`);
  // repair() must not touch a write in progress: it waits for the lock and gives up.
  shmErrorOf(() => stream.repair({ timeout: 300 }), 'ETIMEDOUT');
  assert.ok(isOdd(rawField(name, Field.writeSequence)), 'nothing touched the frozen write');
  // The durations bounded above, for judging a failure on a loaded machine.
  t.diagnostic(`read timed out after ${read.elapsed.toFixed(0)} ms, write after ${write.elapsed.toFixed(0)} ms`);
}

test('a writer frozen (SIGSTOP) mid-write: read({ timeout }) and write({ timeout }) fail with ETIMEDOUT; once killed it reads as interrupted', async (t) => {
  const { name, stream } = smallStream(t, 'frozen');
  const child = track(t, runNodePeer('fault_peer.js', { action: 'odd', name, fill: 8, then: 'sigstop' }));
  await child.lines.waitFor('odd');
  await waitUntil(() => isStopped(child.child.pid), 20000, 'the child to stop itself');
  assertFrozen(t, stream, name, child.child.pid);
  process.kill(child.child.pid, 'SIGKILL');
  await child.done;
  // Once it is dead, the same state reads as an interrupted write.
  assertInterrupted(stream, name, { count: 1 });
});

test('a writer frozen (SIGSTOP) mid-write: the default timeouts apply (read 5 s, write 10 s)', async (t) => {
  assert.equal(DEFAULT_READ_TIMEOUT, 5000);
  assert.equal(DEFAULT_WRITE_TIMEOUT, 10000);
  const { name, stream } = smallStream(t, 'frozen-default');
  const child = track(t, runNodePeer('fault_peer.js', { action: 'odd', name, then: 'sigstop' }));
  await child.lines.waitFor('odd');
  await waitUntil(() => isStopped(child.child.pid), 20000, 'the child to stop itself');
  const read = shmErrorOf(() => stream.read(), 'ETIMEDOUT');
  assert.ok(read.elapsed >= 4900 && read.elapsed < 5000 + 15000, `read() returned after ${read.elapsed} ms`);
  const write = shmErrorOf(() => stream.write(new Float32Array(16)), 'ETIMEDOUT');
  assert.ok(write.elapsed >= 9900 && write.elapsed < 10000 + 15000, `write() returned after ${write.elapsed} ms`);
  assert.equal(rawField(name, Field.count), 1);
});

test('a writer frozen (SIGSTOP) mid-write after a completed write: next({ timeout }) returns control after the read default, not the wait timeout', async (t) => {
  // The wait ends at once (a write completed), then the read meets the frozen
  // one: the wait's timeout (60 s here) must not become the read's (5 s).
  const { name, stream } = smallStream(t, 'frozen-next');
  const child = track(t, runNodePeer('fault_peer.js', { action: 'odd', name, then: 'sigstop' }));
  await child.lines.waitFor('odd');
  await waitUntil(() => isStopped(child.child.pid), 20000, 'the child to stop itself');
  const started = performance.now();
  await assert.rejects(stream.next({ timeout: 60000 }), { code: 'ETIMEDOUT', message: /read\(\) of stream/ });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 4900 && elapsed < 5000 + 15000, `next() returned after ${elapsed} ms`);
});

test('a Node writer frozen (SIGSTOP) in the middle of a 64 MB write: ETIMEDOUT while frozen, consistent reads after SIGCONT', async (t) => {
  const name = streamName(t, 'sigstop-large');
  const stream = create(name, { shape: LARGE, dtype: 'float32' });
  t.after(() => stream.close());
  const { child } = await signalMidWrite(t, name, 'SIGSTOP');
  const count = rawField(name, Field.count);
  assertFrozen(t, stream, name, child.child.pid);
  process.kill(child.child.pid, 'SIGCONT');
  // The frozen write completes, and the writer goes on.
  const frame = stream.read({ timeout: 30000 });
  assert.ok(stream.lastReadCount > count);
  assert.ok(allEqual(frame, frame[0]), 'a consistent frame');
  assert.equal(frame[0], stream.lastReadCount, 'frame k holds k');
  process.kill(child.child.pid, 'SIGKILL');
  await child.done;
});

// --- 3. A lock holder killed --------------------------------------------------

for (const peer of ['node', 'python']) {
  test(`a ${peer} lock holder killed: inspection reports the lock free and corrects the stale owner pid; the next acquire succeeds at once`, async (t) => {
    const { name, stream } = smallStream(t, `holder-${peer}`);
    const holder = track(
      t,
      peer === 'node' ? runNodePeer('fault_peer.js', { action: 'hold-lock', name }) : runPythonPeer('hold-lock', { name, seconds: 600 }, { timeout: 120000 }),
    );
    await holder.lines.waitFor('locked', 30000);
    const pid = holder.child.pid;
    assert.deepEqual(stream.lockInfo(), { locked: true, ownerPid: pid, heldByThisThread: false });
    assert.throws(() => stream.acquireSync({ timeout: 50 }), { code: 'ETIMEDOUT' });

    process.kill(pid, 'SIGKILL');
    await holder.done;
    assert.equal(rawField(name, Field.lockOwnerPid), pid, 'the dead holder is still recorded');
    assert.equal(rawField(name, Field.lockDepth), 1);

    assert.deepEqual(stream.lockInfo(), { locked: false, ownerPid: null, heldByThisThread: false });
    assert.equal(rawField(name, Field.lockOwnerPid), 0, 'inspection reset the stale owner pid');
    assert.equal(rawField(name, Field.lockDepth), 0);

    // timeout 0: one try, no waiting.
    stream.acquireSync({ timeout: 0 });
    assert.equal(rawField(name, Field.lockOwnerPid), process.pid);
    stream.release();
    await stream.acquire({ timeout: 0 });
    stream.release();
    stream.write(new Float32Array(16).fill(1), { timeout: 0 });
    assert.equal(stream.count, 2);
    assert.equal(rawField(name, Field.lockOwnerPid), 0);
  });
}

test('a lock holder killed: the next acquire (without inspection first) succeeds at once and overwrites the stale owner pid', async (t) => {
  const { name, stream } = smallStream(t, 'holder-acquire');
  const holder = track(t, runNodePeer('fault_peer.js', { action: 'hold-lock', name }));
  await holder.lines.waitFor('locked');
  process.kill(holder.child.pid, 'SIGKILL');
  await holder.done;
  assert.equal(rawField(name, Field.lockOwnerPid), holder.child.pid);
  stream.acquireSync({ timeout: 0 });
  assert.equal(rawField(name, Field.lockOwnerPid), process.pid);
  assert.equal(rawField(name, Field.lockDepth), 1);
  stream.release();
  assert.equal(rawField(name, Field.lockOwnerPid), 0);
  assert.deepEqual(stream.lockInfo(), { locked: false, ownerPid: null, heldByThisThread: false });
});
