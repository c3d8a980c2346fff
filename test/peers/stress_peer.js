// A Node peer for the stress test (64-) and scripts/soak.js. Prints "ready",
// waits until the file `go` exists (all peers start together), works for
// `seconds`, then prints one JSON line with its counts.
//
// Usage: node [--expose-gc] stress_peer.js '{"role": ..., "name": ..., ...}'
//   writer  {name, id, seconds, go}        writes frames filled with the constant id * 1e9 + k
//                                          (k = 1, 2, ...), as fast as it can
//   reader  {name, id, seconds, go, mode}  safe reads ("read": read() and read({ out }) in
//                                          turn; "next": readNewSync()), checking that every
//                                          snapshot is one constant (not torn), that each
//                                          writer's frames never go backwards and that the
//                                          count never goes backwards
//   leak    {name, cycles, warmup, gcEvery}
//                                          open / read / close cycles; fd count, memory
//                                          mappings, RSS and V8 heap after warmup and after
//                                          cycles (run with --expose-gc). Every gcEvery cycles
//                                          it collects garbage and lets the event loop turn
//                                          (Node runs native finalizers there); gcEvery 0
//                                          leaves collection to V8 and only yields every 1000
//   fault-writer {name, id, stopAt, opTimeout}
//                                          for the fault soak (scripts/soak.js --faults), until
//                                          the epoch ms stopAt or SIGKILL: takes the lock, prints
//                                          "i K C0 ODD" (write K of this writer, the count C0 and
//                                          the sequence's parity seen under the lock), writes the
//                                          frame id * 1e9 + K, prints "d K", releases. One write(2)
//                                          per line, so a line is in the pipe before the next step
//   fault-reader {name, id, stopAt, opTimeout}
//                                          safe reads until stopAt or SIGKILL; prints "r READS"
//                                          every 200 ms, "t V1 V2 ..." for a torn snapshot (its
//                                          distinct values), "e CODE" for an error
//                                          Both print "s MS" for an operation that took longer than
//                                          opTimeout + 2 s (a hang) and "end" when they stop at stopAt.
import { readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../packages/tsshmem/dist/index.js';

const args = JSON.parse(process.argv[2]);
const report = (result) => process.stdout.write(JSON.stringify({ role: args.role, id: args.id, ...result }) + '\n');
const FRAME = 1e9;

async function waitForGo() {
  process.stdout.write('ready\n');
  const deadline = Date.now() + 120000;
  while (statSync(args.go, { throwIfNoEntry: false }) === undefined) {
    if (Date.now() > deadline) throw new Error('no go signal');
    await sleep(1);
  }
}

function countError(errors, error) {
  const key = `${error.code ?? error.name}: ${error.message.slice(0, 160)}`;
  errors[key] = (errors[key] ?? 0) + 1;
}

async function writer() {
  const stream = open(args.name);
  const frame = new Float64Array(stream.size / 8);
  await waitForGo();
  const end = Date.now() + args.seconds * 1000;
  const errors = {};
  let writes = 0;
  for (let k = 1; Date.now() < end; k++) {
    frame.fill(args.id * FRAME + k);
    try {
      stream.write(frame);
      writes++;
    } catch (error) {
      countError(errors, error);
    }
  }
  stream.close();
  report({ writes, errors });
}

async function reader() {
  const stream = open(args.name);
  const out = new Float64Array(stream.size / 8);
  await waitForGo();
  const end = Date.now() + args.seconds * 1000;
  const errors = {};
  const lastFrame = new Map();
  let reads = 0;
  let torn = 0;
  let frameRegressions = 0;
  let countRegressions = 0;
  let lastCount = -1;
  while (Date.now() < end) {
    let snapshot;
    try {
      if (args.mode === 'next') snapshot = stream.readNewSync({ timeout: 2000 });
      else snapshot = reads % 2 === 0 ? stream.read() : stream.read({ out });
    } catch (error) {
      if (!(error.code === 'ETIMEDOUT' && args.mode === 'next' && Date.now() >= end)) countError(errors, error);
      continue;
    }
    reads++;
    const first = snapshot[0];
    let uniform = true;
    for (let i = 1; i < snapshot.length; i++) {
      if (snapshot[i] !== first) {
        uniform = false;
        break;
      }
    }
    if (!uniform) {
      torn++;
      continue;
    }
    if (stream.lastReadCount < lastCount) countRegressions++;
    lastCount = stream.lastReadCount;
    if (first === 0) continue; // before the first write
    const writerId = Math.floor(first / FRAME);
    const k = first % FRAME;
    if (k < (lastFrame.get(writerId) ?? 0)) frameRegressions++;
    lastFrame.set(writerId, k);
  }
  stream.close();
  report({ reads, torn, frameRegressions, countRegressions, errors, writersSeen: [...lastFrame.keys()].sort() });
}

async function measure() {
  globalThis.gc();
  await turn();
  globalThis.gc();
  const usage = process.memoryUsage();
  return {
    fds: readdirSync('/proc/self/fd').length,
    mappings: readFileSync('/proc/self/maps', 'utf8').split('\n').length,
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external,
  };
}

async function leak() {
  if (typeof globalThis.gc !== 'function') throw new Error('run the leak role with --expose-gc');
  const probe = open(args.name);
  const out = new Float64Array(probe.size / 8);
  probe.close();
  const { gcEvery = 100 } = args;
  let peakRss = 0;
  const cycles = async (count) => {
    for (let i = 1; i <= count; i++) {
      const stream = open(args.name);
      stream.read({ out });
      stream.close();
      if (gcEvery > 0 && i % gcEvery === 0) {
        globalThis.gc();
        await turn();
      } else if (gcEvery === 0 && i % 1000 === 0) {
        await turn();
      }
      if (i % 1000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
  };
  await cycles(args.warmup);
  const before = await measure();
  peakRss = 0;
  const started = performance.now();
  await cycles(args.cycles);
  const seconds = (performance.now() - started) / 1000;
  const after = await measure();
  report({ cycles: args.cycles, warmup: args.warmup, gcEvery, seconds, before, after, peakRss });
}

const HANG_SLACK_MS = 2000;
const PROGRESS_MS = 200;
const line = (text) => writeSync(1, `${text}\n`);

/** Runs operation, reporting it as a hang if it took longer than its timeout allows. */
function timed(operation) {
  const started = performance.now();
  try {
    return operation();
  } finally {
    const elapsed = performance.now() - started;
    if (elapsed > args.opTimeout + HANG_SLACK_MS) line(`s ${Math.round(elapsed)}`);
  }
}

function faultWriter() {
  const stream = open(args.name);
  const frame = new Float64Array(stream.size / 8);
  line('ready');
  for (let k = 1; Date.now() < args.stopAt; k++) {
    try {
      timed(() => stream.acquireSync({ timeout: args.opTimeout }));
    } catch (error) {
      line(`e ${error.code}`);
      continue;
    }
    try {
      line(`i ${k} ${stream.count} ${stream.writeSequence % 2}`);
      frame.fill(args.id * FRAME + k);
      timed(() => stream.write(frame, { timeout: args.opTimeout }));
      line(`d ${k}`);
    } catch (error) {
      line(`e ${error.code}`);
    } finally {
      stream.release();
    }
  }
  stream.close();
  line('end');
}

function faultReader() {
  const stream = open(args.name);
  line('ready');
  let reads = 0;
  let lastProgress = performance.now();
  while (Date.now() < args.stopAt) {
    let snapshot;
    try {
      snapshot = timed(() => stream.read({ timeout: args.opTimeout }));
    } catch (error) {
      line(`e ${error.code}`);
      continue;
    }
    reads++;
    if (!snapshot.every((value) => value === snapshot[0])) line(`t ${[...new Set(snapshot)].slice(0, 4).join(' ')}`);
    if (performance.now() - lastProgress > PROGRESS_MS) {
      line(`r ${reads}`);
      lastProgress = performance.now();
    }
  }
  stream.close();
  line(`r ${reads}`);
  line('end');
}

await { writer, reader, leak, 'fault-writer': faultWriter, 'fault-reader': faultReader }[args.role]();
