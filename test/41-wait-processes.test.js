// Waiting for new writes across processes: no lost writes, a ping-pong that
// relies on each handle remembering the last write it observed, Python
// writers (which wake nobody) reaching a waiting Node reader, waiters that
// die, processes and worker threads that end while or after they wait, and
// the CPU an idle wait costs.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { Extension, WAKE_SLOT_COUNT } from '../packages/tsshmem/dist/format/extension.js';
import { locateByName, lockDirectory } from '../packages/tsshmem/dist/format/names.js';
import { currentSyscall, run, startNodePeer, startNodePeerInNetworkNamespace, startNodePeerInPidNamespace, startPythonPeer, streamName } from './helpers.js';
import { creators, eventually, metaWord, wakeSlotsOf } from './wait-helpers.js';

/** Rethrows error with the peer's stderr, once the peer has been stopped. */
async function failWithPeer(peer, error) {
  peer.child.kill('SIGKILL');
  const { stderr } = await peer.done;
  throw new Error(`${error.message}; peer stderr: ${stderr.trim() || '(empty)'}`, { cause: error });
}

/** Milliseconds since the stream's last write completed (its write time), at sub-millisecond resolution. */
function writeAgeMs(reader) {
  return performance.timeOrigin + performance.now() - reader.writeTime * 1000;
}

/** The report of an idle-waiter.js peer, once it has ended well. */
async function idleWait(peer) {
  const { code, signal, stdout, stderr } = await peer.done;
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

function percentile(values, fraction) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/**
 * waitStats of a handle whose `waits` waits all ended with a tsshmem writer's
 * write on a tsshmem stream: each ended by the writer's wake, or found the
 * write already there. The loop's 10 ms timer can still see a count in the
 * microseconds between the writer storing it and sending its wake (more
 * often when the writer is preempted there), so a handful of re-checks is
 * tolerated; without the writer's wake every wait that slept is re-checked.
 */
function assertWokenByWriter(stats, waits) {
  const shown = JSON.stringify(stats);
  assert.ok(stats.woken > 0, `no wait was ended by a writer's wake: ${shown}`);
  assert.equal(stats.woken + stats.immediate + stats.rechecked, waits, `waits that ended otherwise: ${shown}`);
  assert.ok(stats.rechecked <= Math.max(2, waits / 100), `more than a handful of waits ended by a re-check: ${shown}`);
}

/**
 * Waits with next() until frame `count` arrives; frame n holds n in every
 * element and is the n-th write. Checks that frames come strictly in order,
 * whole, and that missedWrites accounts exactly for the gaps. Returns the
 * number of frames seen and, per frame, how long ago its write completed.
 */
async function consumeNumberedFrames(reader, count, peer) {
  let seen = 0;
  let last = 0;
  const agesMs = [];
  while (last < count) {
    const received = await reader.next({ timeout: 20000 }).catch((error) => failWithPeer(peer, error));
    agesMs.push(writeAgeMs(reader));
    const n = received[0];
    assert.ok(n > last, `frame ${n} came after frame ${last}`);
    assert.ok(received.every((value) => value === n), `frame ${n} is not whole`);
    assert.equal(reader.lastReadCount, n);
    assert.equal(reader.missedWrites, n - last - 1);
    seen++;
    last = n;
  }
  return { seen, agesMs };
}

test('no write is lost: a consumer waiting with next() on 10,000 numbered frames from another process sees them in strictly increasing order, and seen + skipped = 10,000', { timeout: 180000 }, async (t) => {
  const count = 10000;
  const name = streamName(t, 'numbered');
  const reader = create(name, { shape: [256], dtype: 'int32' });
  t.after(() => reader.close());
  // Bursts of 10 writes, then 1 ms of quiet: the consumer both finds writes
  // already landed and goes to sleep and is woken.
  const producer = startNodePeer(t, 'wait-producer.js', { name, count, pauseEvery: 10, pauseMs: 1 }, { timeout: 170000 });
  const { seen } = await consumeNumberedFrames(reader, count, producer);
  const { code, stdout, stderr } = await producer.done;
  assert.equal(code, 0, stderr);
  const written = Number(/^wrote (\d+)$/m.exec(stdout)?.[1]);
  const stats = reader.waitStats;
  t.diagnostic(`informal: seen ${seen}, skipped ${reader.totalMissedWrites}, producer wrote ${written}; waits ${JSON.stringify(stats)}`);
  assert.equal(seen + reader.totalMissedWrites, written);
  assertWokenByWriter(stats, seen);
});

test('no write from a pyshmem writer is lost either, on a stream the Python peer created (no extension area, nobody wakes the reader)', { timeout: 120000 }, async (t) => {
  const count = 1000;
  const name = streamName(t, 'numbered-python');
  await creators.pyshmem(name, [16], 'float32');
  const reader = open(name);
  t.after(() => reader.close());
  const writer = startPythonPeer(t, 'write-loop', { name, count, interval_ms: 1 }, { timeout: 110000 });
  const { seen, agesMs } = await consumeNumberedFrames(reader, count, writer);
  t.diagnostic(`informal: seen ${seen}, skipped ${reader.totalMissedWrites}; age of the write when next() returned: median ${percentile(agesMs, 0.5).toFixed(2)} ms, p99 ${percentile(agesMs, 0.99).toFixed(2)} ms`);
  assert.equal(seen + reader.totalMissedWrites, count);
  const { code, stderr } = await writer.done;
  assert.equal(code, 0, stderr);
});

// Each side writes, then waits with next() for the other's write. An answer
// can land before the waiting side even calls next(); a baseline taken when
// next() is called (pyshmem's read_new) would then wait for an answer that
// never comes. Every tenth exchange each side makes sure of that case: it
// calls next() only after the other's write has landed, and must get it at
// once. The handle's remembered last observed write makes that work.
test('a 1,000-exchange ping-pong across two processes completes: each side waits with next() for the other\'s write and answers it', { timeout: 180000 }, async (t) => {
  const exchanges = 1000;
  const lateEvery = 10;
  const [ping, pong] = [streamName(t, 'ping'), streamName(t, 'pong')];
  const requests = create(ping, { shape: [128, 128], dtype: 'float32' });
  const answers = create(pong, { shape: [128, 128], dtype: 'float32' });
  t.after(() => {
    requests.close();
    answers.close();
  });
  const answerer = startNodePeer(t, 'ping-pong.js', { ping, pong, exchanges, timeout: 20000, lateEvery }, { timeout: 170000 });
  await answerer.lines.waitFor('ready', 20000);
  const request = new Float32Array(128 * 128);
  const roundTripsMs = [];
  for (let n = 1; n <= exchanges; n++) {
    const start = performance.now();
    requests.write(request.fill(n));
    let answer;
    if (n % lateEvery === 0) {
      assert.ok(await eventually(() => answers.count >= n, 20000), `no answer to ping ${n}`);
      answer = await answers.next({ timeout: 0 });
    } else {
      answer = await answers.next({ timeout: 20000 }).catch((error) => failWithPeer(answerer, error));
      roundTripsMs.push(performance.now() - start);
    }
    if (answer[0] !== n || answers.missedWrites !== 0) assert.fail(`ping ${n} answered with ${answer[0]} after ${answers.missedWrites} missed writes`);
  }
  const { code, stdout, stderr } = await answerer.done;
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`^answered ${exchanges}$`, 'm'));
  t.diagnostic(`informal: waits ${JSON.stringify(answers.waitStats)}`);
  assertWokenByWriter(answers.waitStats, exchanges);
  assert.ok(answers.waitStats.immediate >= exchanges / lateEvery, 'the late next() calls found their answer at once');
  t.diagnostic(`informal: 128x128 float32 round trip median ${(percentile(roundTripsMs, 0.5) * 1000).toFixed(0)} us, p99 ${(percentile(roundTripsMs, 0.99) * 1000).toFixed(0)} us`);
});

for (const origin of Object.keys(creators)) {
  test(`a write by the Python peer in the pyshmem format wakes a Node reader waiting with next() (stream created by ${origin})`, { timeout: 60000 }, async (t) => {
    const name = streamName(t, `python-wakes-${origin}`);
    await creators[origin](name, [16], 'float32');
    const reader = open(name);
    t.after(() => reader.close());
    const values = Array.from({ length: 16 }, (_, index) => index + 0.5);
    const pending = reader.next({ timeout: 20000 });
    const writer = startPythonPeer(t, 'write', { name, values });
    const received = await pending.catch((error) => failWithPeer(writer, error));
    t.diagnostic(`informal: next() returned ${writeAgeMs(reader).toFixed(2)} ms after the Python write completed`);
    assert.deepEqual(Array.from(received), values);
    assert.equal(reader.lastReadCount, 1);
    // pyshmem writers wake nobody: the reader's periodic re-check found the write.
    assert.deepEqual(reader.waitStats, { immediate: 0, woken: 0, rechecked: 1, timedOut: 0, cancelled: 0 });
    const { code, stderr } = await writer.done;
    assert.equal(code, 0, stderr);
  });

  test(`an idle reader waiting with next() uses less than 10% of a core (stream created by ${origin})`, { timeout: 60000 }, async (t) => {
    const name = streamName(t, `idle-${origin}`);
    await creators[origin](name, [16], 'float32');
    const { cpuMs, wallMs, settled } = await idleWait(startNodePeer(t, 'idle-waiter.js', { name, ms: 1000 }));
    t.diagnostic(`informal: ${cpuMs.toFixed(1)} ms CPU over ${wallMs.toFixed(0)} ms of idle waiting (${((100 * cpuMs) / wallMs).toFixed(2)}% of a core)`);
    assert.equal(settled, 'AbortError');
    // Node's timers may fire a fraction of a millisecond early by performance.now().
    assert.ok(wallMs >= 990, `measured over ${wallMs} ms only`);
    assert.ok(cpuMs / wallMs < 0.1, `the idle waiting process used ${cpuMs} ms of CPU in ${wallMs} ms`);
  });
}

/**
 * "granted" if this machine grants a read lease on a file of the lock
 * directory, the kernel query behind telling pyshmem processes apart; else why not.
 */
async function readLeaseOutcome() {
  const probe = [
    'import fcntl, os, sys, tempfile',
    'os.makedirs(sys.argv[1], exist_ok=True)',
    'handle, path = tempfile.mkstemp(dir=sys.argv[1])',
    'os.close(handle)',
    'descriptor = os.open(path, os.O_RDONLY)',
    'try:',
    '    fcntl.fcntl(descriptor, 1024, fcntl.F_RDLCK)',
    '    print("granted")',
    'except OSError as error:',
    '    print(error)',
    'finally:',
    '    os.close(descriptor)',
    '    os.unlink(path)',
  ].join('\n');
  const { code, stdout, stderr } = await run('python3', ['-c', probe, lockDirectory()]).done;
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

// A tsshmem writer wakes its readers; a pyshmem writer wakes nobody, so a
// waiting reader checks the count every millisecond while one may be
// attached, and every 10 ms otherwise. Counted in wakes of the waiting
// process (voluntary context switches), not in time. next() waits in the
// event loop, readNewSync() in a worker thread's sleep slices.
for (const method of ['next', 'readNewSync']) {
  test(`an idle ${method}() on a tsshmem-created stream checks every 10 ms, and every 1 ms while a pyshmem process holds the stream open, whether it attached before or during the wait`, { timeout: 60000 }, async (t) => {
    const name = streamName(t, 'check-rate');
    // This process keeps a tsshmem handle, lock file included, open throughout:
    // tsshmem handles must not count as silent writers.
    const writer = create(name, { shape: [16], dtype: 'float32' });
    t.after(() => writer.close());
    writer.write(new Float32Array(16));
    const ms = 1000;

    const alone = await idleWait(startNodePeer(t, 'idle-waiter.js', { name, ms, method }));
    const lease = await readLeaseOutcome();
    if (lease !== 'granted') {
      t.diagnostic(`read leases are refused here (${lease}): waits cannot tell pyshmem processes apart and check every 1 ms, as documented`);
      assert.ok(alone.wakes > 500, `${alone.wakes} wakes in ${ms} ms where leases are refused`);
      return;
    }

    const early = startPythonPeer(t, 'attach', { name, seconds: 30 });
    await early.lines.waitFor('attached', 20000);
    const attachedBefore = await idleWait(startNodePeer(t, 'idle-waiter.js', { name, ms, method }));
    early.child.kill('SIGKILL');
    await early.done;
    const afterLeaving = await idleWait(startNodePeer(t, 'idle-waiter.js', { name, ms, method }));

    const waiter = startNodePeer(t, 'idle-waiter.js', { name, ms, method, go: true });
    await waiter.lines.waitFor('waiting');
    const late = startPythonPeer(t, 'attach', { name, seconds: 30 });
    await late.lines.waitFor('attached', 20000);
    waiter.child.stdin.end('go\n');
    const attachedDuring = await idleWait(waiter);

    t.diagnostic(`informal: wakes per second alone ${alone.wakes}, pyshmem attached before ${attachedBefore.wakes}, after it left ${afterLeaving.wakes}, attached during the wait ${attachedDuring.wakes}`);
    assert.ok(alone.wakes < 300, `${alone.wakes} wakes in ${ms} ms with no pyshmem process attached`);
    assert.ok(afterLeaving.wakes < 300, `${afterLeaving.wakes} wakes in ${ms} ms after the pyshmem process left`);
    for (const [when, result] of [['before', attachedBefore], ['during', attachedDuring]]) {
      assert.ok(result.wakes > 3 * alone.wakes, `${result.wakes} wakes in ${ms} ms with a pyshmem process attached ${when} the wait, ${alone.wakes} with none`);
    }
  });
}

// The watch that notices pyshmem processes attaching is on each waited
// stream's own lock file: opening the lock files of other streams (busy
// neighbours in the same lock directory) must not wake an idle waiter.
for (const method of ['next', 'readNewSync']) {
  test(`an idle ${method}() is not woken by other streams' lock files being opened`, { timeout: 60000 }, async (t) => {
    const name = streamName(t, 'quiet');
    const neighbour = streamName(t, 'neighbour');
    create(name, { shape: [16], dtype: 'float32' }).close();
    create(neighbour, { shape: [16], dtype: 'float32' }).close();
    const opener = run(process.execPath, [
      '--input-type=module',
      '-e',
      `import { closeSync, openSync } from 'node:fs';
      const path = ${JSON.stringify(locateByName(neighbour).lockPath)};
      let opens = 0;
      const loop = () => { closeSync(openSync(path, 'r')); if (++opens === 100) console.log('opening'); setImmediate(loop); };
      loop();`,
    ]);
    t.after(async () => {
      opener.child.kill('SIGKILL');
      await opener.done;
    });
    await opener.lines.waitFor('opening');
    const ms = 1000;
    const busy = await idleWait(startNodePeer(t, 'idle-waiter.js', { name, ms, method }));
    t.diagnostic(`informal: ${busy.wakes} wakes in ${ms} ms while another process opened a neighbour's lock file in a loop`);
    assert.ok(busy.wakes < 300, `${busy.wakes} wakes in ${ms} ms while another stream's lock file was opened in a loop`);
  });
}

test('a process whose waits have all settled (written, timed out, aborted, closed) ends by itself with handles still open', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'settle');
  create(name, { shape: [4], dtype: 'int32' }).close();
  const { code, signal, stdout, stderr } = await startNodePeer(t, 'wait-settle.js', { name }, { timeout: 30000 }).done;
  assert.equal(signal, null, 'the process had to be killed: something kept its event loop alive');
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    written: 'frame 1',
    timedOut: 'ETIMEDOUT',
    abortedBefore: 'AbortError',
    abortedDuring: 'AbortError',
    closedDuring: 'ERR_STREAM_CLOSED',
  });
});

// A waiter that dies cannot undo its own registration; the word that says
// "someone is waiting" must still come back to 0, or every later write pays
// for waking nobody.
for (const method of ['next', 'readNewSync']) {
  const word = 'wakeWaiting';
  test(`a reader killed while waiting in ${method}() does not leave the ${word} word raised once the next write lands`, { timeout: 60000 }, async (t) => {
    const name = streamName(t, `killed-${method}`);
    const writer = create(name, { shape: [4], dtype: 'int32' });
    t.after(() => writer.close());
    const reader = startNodePeer(t, 'waiting-reader.js', { name, sync: method === 'readNewSync' });
    await reader.lines.waitFor('waiting');
    assert.ok(await eventually(() => metaWord(name, Extension[word]) > 0), `the waiting reader raised ${word}`);
    reader.child.kill('SIGKILL');
    await reader.done;
    writer.write(new Int32Array(4).fill(1));
    writer.write(new Int32Array(4).fill(2));
    assert.equal(metaWord(name, Extension[word]), 0);
  });
}

// Containers that share /dev/shm but not their pids: from the other pid
// namespace this process's pid names no process, yet it is alive.
test('a process of another pid namespace takes no wake slot from live waiters whose pids it cannot look up', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'other-pid-namespace');
  const writer = create(name, { shape: [4], dtype: 'int32' });
  t.after(() => writer.close());
  const readers = Array.from({ length: WAKE_SLOT_COUNT }, () => open(name));
  t.after(() => readers.forEach((reader) => reader.close()));
  const waits = readers.map((reader) => reader.next({ timeout: 20000 }));
  assert.ok(await eventually(() => wakeSlotsOf(name, process.pid).length === WAKE_SLOT_COUNT), 'every wake slot is this process\'s');
  const sleeper = startNodePeerInPidNamespace(t, 'waiting-reader.js', { name, sync: true });
  await sleeper.lines.waitFor('waiting');
  const sleeperPid = await sleeper.hostPid();
  // readNewSync() claims its slot before its first futex(2) sleep.
  assert.ok(await eventually(() => currentSyscall(sleeperPid) === 'futex', 20000), 'the other namespace\'s reader sleeps in readNewSync()');
  assert.equal(wakeSlotsOf(name, process.pid).length, WAKE_SLOT_COUNT, 'no slot was taken from this live process');
  writer.write(new Int32Array(4).fill(7));
  for (const received of await Promise.all(waits)) assert.equal(received[0], 7);
  assert.equal(await sleeper.lines.waitFor(/^\d+$/), '7');
});

// Containers that share /dev/shm and the lock directory but not the
// network: a waiter's wake socket is bound in the abstract namespace of its
// network namespace, where a writer elsewhere finds nobody (ECONNREFUSED).
test('a reader of another network namespace waiting with next() is woken by every write after the first (a futex then, not the 10 ms check)', { timeout: 60000 }, async (t) => {
  const frames = 20;
  const name = streamName(t, 'other-network-namespace');
  const writer = create(name, { shape: [4], dtype: 'int32' });
  t.after(() => writer.close());
  const reader = startNodePeerInNetworkNamespace(t, 'waiting-reader.js', { name, frames });
  for (let frame = 0; frame < frames; frame++) {
    await reader.lines.waitFor(`waiting ${frame}`);
    writer.write(new Int32Array(4).fill(frame + 1));
    await reader.lines.waitFor(String(frame + 1));
  }
  const stats = JSON.parse(await reader.lines.waitFor(/^\{/));
  // Every wait was armed before its write, so each ended woken or rechecked;
  // the first, whose wake the socket could not take, by the timer's check.
  assert.equal(stats.woken + stats.rechecked, frames, JSON.stringify(stats));
  assert.ok(stats.woken >= frames - 2, `woken by ${stats.woken} of ${frames} writes: ${JSON.stringify(stats)}`);
  // Its helper thread keeps neither the loop nor the process alive.
  const { code, signal, stderr } = await reader.done;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
});

test('a worker thread that ends while its next() is pending (terminate() or process.exit()) does not bring its process down', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'worker-exit');
  create(name, { shape: [4], dtype: 'int32' }).close();
  const { code, signal, stdout, stderr } = await startNodePeer(t, 'worker-exit-pending.js', { name }, { timeout: 30000 }).done;
  assert.equal(signal, null, stderr);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), 'survived');
});
