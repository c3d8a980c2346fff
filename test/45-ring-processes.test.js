// Ring streams across real processes: lossless delivery under a flooding
// block-mode writer, exact accounting under overwrite, pyshmem peers on a
// ring stream, and peers killed with SIGKILL mid-loan or while holding
// samples.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { leftovers, overwriteReaderPid, startNodePeer, startNodePeerInPidNamespace, startPythonPeer, streamName } from './helpers.js';

const frame = (n) => new Int32Array(64).fill(n);

function ringStream(t, options, label) {
  const name = streamName(t, label);
  const stream = create(name, { shape: [64], dtype: 'int32', ...options });
  t.after(() => stream.close());
  return { name, stream };
}

/** next() until frame `count`; checks order and wholeness; returns how many frames were seen. */
async function consume(reader, count) {
  let seen = 0;
  let last = 0;
  while (last < count) {
    const received = await reader.next({ timeout: 20000 });
    const n = received[0];
    assert.ok(n > last, `frame ${n} after ${last}`);
    assert.ok(received.every((value) => value === n), `frame ${n} is whole`);
    assert.equal(reader.lastReadCount, n);
    assert.equal(reader.missedWrites, n - last - 1);
    last = n;
    seen++;
  }
  return seen;
}

for (const writeAsync of [false, true]) {
  test(`overflow 'block': a writer flooding 5,000 numbered frames with ${writeAsync ? 'writeAsync()' : 'write()'} from another process reaches a next() reader in order, none missed`, { timeout: 120000 }, async (t) => {
    const count = 5000;
    const { name, stream: reader } = ringStream(t, { history: 16, overflow: 'block' }, 'flood');
    reader.register(); // from now on the writer waits for this reader
    const producer = startNodePeer(t, 'ring-peer.js', { command: 'produce', name, count, async: writeAsync });
    const seen = await consume(reader, count);
    assert.equal(seen, count);
    assert.equal(reader.totalMissedWrites, 0);
    const { code, stderr } = await producer.done;
    assert.equal(code, 0, stderr);
  });
}

test("overflow 'block': write({ timeout: Infinity }) from another process waits for room as long as it takes (not ETIMEDOUT at once)", { timeout: 60000 }, async (t) => {
  const { name, stream: reader } = ringStream(t, { history: 2, overflow: 'block' }, 'endless');
  reader.register();
  const producer = startNodePeer(t, 'ring-peer.js', { command: 'produce', name, count: 4, timeout: 'Infinity' });
  // Handshake: two frames published and the producer holding the lock, waiting in its third write for room.
  while (!(reader.ringStatus().head === 2 && reader.lockInfo().ownerPid === producer.child.pid)) {
    await new Promise((resolve) => setImmediate(resolve));
    if (producer.child.exitCode !== null) break;
  }
  assert.equal(producer.child.exitCode, null, `the producer waits for room instead of failing: ${producer.child.exitCode}`);
  const seen = await consume(reader, 4);
  assert.equal(seen, 4);
  assert.equal(reader.totalMissedWrites, 0);
  const { code, stderr } = await producer.done;
  assert.equal(code, 0, stderr);
});

test("overflow 'overwrite': a paced writer in another process; every frame is seen or counted in missedWrites, in order", { timeout: 120000 }, async (t) => {
  const count = 3000;
  const { name, stream: reader } = ringStream(t, { history: 64 }, 'paced');
  reader.register();
  const producer = startNodePeer(t, 'ring-peer.js', { command: 'produce', name, count, pauseEvery: 4, pauseMs: 1 });
  const seen = await consume(reader, count);
  t.diagnostic(`informal: seen ${seen}, missed ${reader.totalMissedWrites}`);
  assert.equal(seen + reader.totalMissedWrites, count);
  assert.equal((await producer.done).code, 0);
});

test('a pyshmem reader of a ring stream reads the newest frame; a pyshmem writer\'s frames reach a tsshmem ring reader, in order, none silently dropped', { timeout: 60000 }, async (t) => {
  const { name, stream } = ringStream(t, { history: 8 }, 'pyshmem');
  for (let n = 1; n <= 20; n++) stream.write(frame(n));
  const python = await startPythonPeer(t, 'read', { name }).done;
  assert.equal(python.code, 0, python.stderr);
  const seenByPython = JSON.parse(python.stdout);
  assert.equal(seenByPython.count, 20);
  assert.deepEqual(seenByPython.values, Array.from(frame(20)));

  const reader = open(name);
  t.after(() => reader.close());
  const count = 200;
  const writer = startPythonPeer(t, 'write-loop', { name, count, interval_ms: 1 });
  let seen = 0;
  let last = 20;
  while (last < 20 + count) {
    const received = await reader.next({ timeout: 20000 });
    // The Python peer writes frame k (1..count) as its (20 + k)-th write.
    assert.equal(reader.lastReadCount, 20 + received[0]);
    assert.ok(reader.lastReadCount > last);
    assert.equal(reader.missedWrites, reader.lastReadCount - last - 1);
    last = reader.lastReadCount;
    seen++;
  }
  t.diagnostic(`informal: ${seen} pyshmem frames delivered, ${reader.totalMissedWrites} counted as missed`);
  assert.equal(seen + reader.totalMissedWrites, count);
  assert.equal((await writer.done).code, 0);
  // Then a tsshmem write goes on counting from the pyshmem count.
  stream.write(frame(999));
  assert.equal((await reader.next({ timeout: 5000 }))[0], 999);
  assert.equal(reader.lastReadCount, 20 + count + 1);
  assert.equal(reader.missedWrites, 0);
});

test('pyshmemFrame: false: a pyshmem opener refuses the stream (metadata version 1002 is not 2); pyshmem\'s unlink removes a ring stream whole', { timeout: 30000 }, async (t) => {
  const { name } = ringStream(t, { history: 4, pyshmemFrame: false }, 'ring-only');
  const refused = await startPythonPeer(t, 'read', { name }).done;
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /not a pyshmem stream/);

  const { name: other, stream } = ringStream(t, { history: 4 }, 'unlink');
  stream.write(frame(1));
  const unlinked = await startPythonPeer(t, 'unlink', { name: other }).done;
  assert.equal(unlinked.code, 0, unlinked.stderr);
  assert.deepEqual(leftovers(other), [], 'data, metadata and lock file are all pyshmem unlinks: nothing else remains');
});

test('a writer killed with SIGKILL between loan() and publish() leaves readers unaffected, and the next writer proceeds', { timeout: 30000 }, async (t) => {
  const { name, stream: writer } = ringStream(t, { history: 4 }, 'killed-loan');
  const reader = open(name);
  t.after(() => reader.close());
  writer.write(frame(1));
  assert.equal((await reader.next())[0], 1);
  const peer = startNodePeer(t, 'ring-peer.js', { command: 'loan', name, value: 666 });
  await peer.lines.waitFor('loaned');
  // The loan holds the write lock: another writer waits for it.
  assert.throws(() => writer.write(frame(2), { timeout: 20 }), (error) => error.code === 'ETIMEDOUT');
  peer.child.kill('SIGKILL');
  await peer.done;
  await assert.rejects(reader.next({ timeout: 50 }), (error) => error.code === 'ETIMEDOUT', 'the unpublished frame never appears');
  writer.write(frame(2), { timeout: 5000 });
  const received = await reader.next({ timeout: 5000 });
  assert.deepEqual(Array.from(received), Array.from(frame(2)));
  assert.equal(reader.lastReadCount, 2);
  assert.equal(reader.missedWrites, 0);
  assert.equal(reader.read()[0], 2, 'the newest frame is the new writer\'s');
});

for (const overflow of ['block', 'overwrite']) {
  test(`a reader killed with SIGKILL while holding samples of every slot (overflow '${overflow}') stalls writers no longer than one liveness check`, { timeout: 30000 }, async (t) => {
    const { name, stream: writer } = ringStream(t, { history: 4, overflow }, `killed-holder-${overflow}`);
    const peer = startNodePeer(t, 'ring-peer.js', { command: 'hold', name, samples: 4 });
    await peer.lines.waitFor('waiting');
    for (let n = 1; n <= 4; n++) writer.write(frame(n), { timeout: 5000 });
    assert.equal(await peer.lines.waitFor(/^holding /), 'holding 1,2,3,4');
    assert.equal(writer.ringStatus().readers[0].holds.length, 4);
    assert.throws(() => writer.write(frame(5), { timeout: 20 }), (error) => error.code === 'ETIMEDOUT', 'every slot is held');
    peer.child.kill('SIGKILL');
    await peer.done;
    for (let n = 5; n <= 12; n++) writer.write(frame(n), { timeout: 0 });
    assert.equal(writer.count, 12);
    assert.deepEqual(writer.ringStatus().readers, [], 'the dead reader was dropped from the table');
  });
}

// Containers that share /dev/shm but not their pids: from the writer's pid
// namespace the reader's pid names no process, yet the reader is alive.
test('a writer in another pid namespace neither drops a live reader nor overwrites the slot its sample holds', { timeout: 30000 }, async (t) => {
  const { name, stream: writer } = ringStream(t, { history: 2 }, 'other-pid-namespace');
  const reader = open(name);
  t.after(() => reader.close());
  writer.write(frame(1));
  const sample = await reader.nextSample({ timeout: 5000 });
  const producer = startNodePeerInPidNamespace(t, 'ring-peer.js', { command: 'produce', name, count: 20 });
  await producer.lines.waitFor('done');
  assert.equal((await producer.done).code, 0);
  assert.equal(writer.count, 21, 'the other namespace\'s 20 writes landed beside the held slot');
  assert.ok(sample.array.every((value) => value === 1), `the held sample still holds frame 1, not ${sample.array[0]}`);
  assert.deepEqual(writer.ringStatus().readers.map((entry) => entry.pid), [process.pid], 'the reader is still registered');
  sample.release();
});

test("overflow 'block': a registered reader killed with SIGKILL while behind no longer holds the writer back", { timeout: 30000 }, async (t) => {
  const { name, stream: writer } = ringStream(t, { history: 4, overflow: 'block' }, 'killed-reader');
  const peer = startNodePeer(t, 'ring-peer.js', { command: 'register', name });
  await peer.lines.waitFor('registered');
  for (let n = 1; n <= 4; n++) writer.write(frame(n), { timeout: 0 });
  assert.throws(() => writer.write(frame(5), { timeout: 20 }), (error) => error.code === 'ETIMEDOUT' && /4 of 4 frames behind/.test(error.message));
  peer.child.kill('SIGKILL');
  await peer.done;
  for (let n = 5; n <= 12; n++) writer.write(frame(n), { timeout: 0 });
  assert.equal(writer.count, 12);
});

// A reader's liveness is the OFD lock it holds on its entry (docs/format.md,
// "Reader liveness"), not its pid: a reused pid cannot keep a dead reader's
// entry, and a dead reader of another pid namespace is reaped here too.
test("overflow 'block': a dead reader whose pid now names a live process (a reused pid) no longer holds the writer back", { timeout: 30000 }, async (t) => {
  const { name, stream: writer } = ringStream(t, { history: 4, overflow: 'block' }, 'reused-pid');
  const peer = startNodePeer(t, 'ring-peer.js', { command: 'register', name });
  await peer.lines.waitFor('registered');
  for (let n = 1; n <= 4; n++) writer.write(frame(n), { timeout: 0 });
  const [entry] = writer.ringStatus().readers;
  peer.child.kill('SIGKILL');
  await peer.done;
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => bystander.kill('SIGKILL'));
  overwriteReaderPid(name, entry.entryOffset, bystander.pid);
  assert.deepEqual(writer.ringStatus().readers.map((reader) => reader.pid), [bystander.pid], 'the entry now names a live process');
  for (let n = 5; n <= 12; n++) writer.write(frame(n), { timeout: 0 });
  assert.equal(writer.count, 12);
  assert.deepEqual(writer.ringStatus().readers, [], 'the dead reader was dropped from the table');
});

test("overflow 'block': a reader of another pid namespace holds the writer back while it lives, and is reaped here once it is killed", { timeout: 30000 }, async (t) => {
  const { name, stream: writer } = ringStream(t, { history: 4, overflow: 'block' }, 'namespace-reaped');
  const peer = startNodePeerInPidNamespace(t, 'ring-peer.js', { command: 'register', name });
  await peer.lines.waitFor('registered');
  for (let n = 1; n <= 4; n++) writer.write(frame(n), { timeout: 0 });
  assert.throws(() => writer.write(frame(5), { timeout: 20 }), (error) => error.code === 'ETIMEDOUT', 'the live reader holds the writer back');
  peer.child.kill('SIGKILL'); // unshare --kill-child takes the reader with it
  await peer.done;
  for (let n = 5; n <= 12; n++) writer.write(frame(n), { timeout: 0 });
  assert.equal(writer.count, 12);
  assert.deepEqual(writer.ringStatus().readers, []);
});

test('writeAsync() waiting for a lock held by another process refuses to write once a loan of this thread took the lock meanwhile (ERR_LOAN_ACTIVE)', { timeout: 30000 }, async (t) => {
  const { name, stream: first } = ringStream(t, { history: 4 }, 'loan-race');
  const second = open(name);
  t.after(() => second.close());
  const holder = startPythonPeer(t, 'hold-lock', { name, seconds: 0.5 });
  await holder.lines.waitFor('locked');
  const pending = first.writeAsync(frame(1), { timeout: 10000 });
  // Blocks this thread until the peer lets go; the loan then holds the lock for this thread.
  const loan = second.loan({ timeout: 10000 });
  await assert.rejects(pending, (error) => error.code === 'ERR_LOAN_ACTIVE');
  loan.array.fill(2);
  loan.publish();
  assert.equal(first.count, 1, 'only the loan was published');
  assert.equal(first.read()[0], 2);
  assert.equal(first.holdsLock, false);
});
