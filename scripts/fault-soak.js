// The fault soak (`npm run soak -- --faults [--seconds N]`, test/65-soak-faults):
// Node and pyshmem writers and readers on one stream while a chaos loop
// SIGKILLs a random one every 50-400 ms and starts a new one in its place.
//
// Peers speak the line protocol of test/peers/stress_peer.js (fault-writer,
// fault-reader; pyshmem_peer.py has the same commands). Every line is one
// write(2), so what a peer printed before it died reaches us.
//
// Which writes completed, exactly: under the stream's lock each writer
// prints "i K C0" (C0: the count it sees) before its write and "d K" after
// it. A write with its "d" line completed. A writer killed between the two
// lines held the lock, so the next lock holder sees the count it left: C0 if
// its write did not complete, C0 + 1 if it did. Hence, with F the final count:
// every count value 0..F-1 is the C0 of exactly one completed write, and
//   completed writes = "d" lines + count values below F seen only by killed writers.
// The soak checks F against that, and that no two "d" lines share a C0 (a lost
// increment) and that every value below F was seen (an increment without a write).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { create, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';

const PEERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'peers');
const FRAME_SHAPE = [128, 128];
const FRAME = 1e9;
/** Timeout of each lock, write and read. */
const OP_TIMEOUT_MS = 5000;
/** A peer at work silent this long is hung; one starting up gets longer (numpy's import on a loaded machine). */
const SILENCE_MS = 15000;
const STARTUP_MS = 60000;
const KILL_INTERVAL_MS = [50, 400];
/** Slots: each holds one peer at a time; a killed peer is replaced by a new incarnation. */
export const DEFAULT_SLOTS = [
  { kind: 'node', role: 'fault-writer' },
  { kind: 'node', role: 'fault-writer' },
  { kind: 'python', role: 'fault-writer' },
  { kind: 'node', role: 'fault-reader' },
  { kind: 'node', role: 'fault-reader' },
  { kind: 'python', role: 'fault-reader' },
];

function startPeer(slot, id, name, stopAt) {
  const args = { name, id, stopAt, opTimeout: OP_TIMEOUT_MS };
  const command =
    slot.kind === 'node'
      ? [process.execPath, [join(PEERS, 'stress_peer.js'), JSON.stringify({ role: slot.role, ...args })]]
      : ['python3', [join(PEERS, 'pyshmem_peer.py'), slot.role, JSON.stringify(args)]];
  const child = spawn(command[0], command[1], { stdio: ['ignore', 'pipe', 'pipe'] });
  const peer = { slot, id, child, lines: [], stderr: '', lastHeard: Date.now(), ready: false, killed: false, exit: null };
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    peer.lastHeard = Date.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    peer.lines.push(...parts);
    if (!peer.ready && parts.includes('ready')) peer.ready = true;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => (peer.stderr += chunk));
  peer.closed = new Promise((resolve) => child.on('close', (code, signal) => resolve((peer.exit = { code, signal }))));
  return peer;
}

const randomBetween = ([low, high]) => low + Math.random() * (high - low);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the soak on a new stream for `seconds`; resolves with its figures and
 * the failures found (empty: passed). The stream is removed at the end.
 */
export async function runFaultSoak({ seconds, slots = DEFAULT_SLOTS, name = `tsshmem-fault-soak/${process.pid}/${Date.now()}` }) {
  const stream = create(name, { shape: FRAME_SHAPE, dtype: 'float64', mode: 0o600 });
  const stopAt = Date.now() + seconds * 1000;
  const peers = [];
  let nextId = 1;
  const live = slots.map((slot) => {
    const peer = startPeer(slot, nextId++, name, stopAt);
    peers.push(peer);
    return peer;
  });
  const hangs = [];
  let kills = 0;
  try {
    while (Date.now() < stopAt - 500) {
      await sleep(randomBetween(KILL_INTERVAL_MS));
      for (const peer of live) {
        const allowed = peer.ready ? SILENCE_MS : STARTUP_MS;
        if (peer.exit === null && !peer.silent && Date.now() - peer.lastHeard > allowed) {
          peer.silent = true;
          hangs.push(`${describe(peer)} silent for ${allowed} ms after ${JSON.stringify(peer.lines.slice(-3))}: ${processState(peer.child.pid)}`);
        }
      }
      // Only peers at work: a kill during start-up tests nothing.
      const working = live.map((peer, index) => index).filter((index) => live[index].ready || live[index].exit !== null);
      if (working.length === 0) continue;
      const index = working[Math.floor(Math.random() * working.length)];
      const victim = live[index];
      if (victim.exit !== null) {
        if (victim.exit.code !== 0) break; // it failed on its own: reported below
      } else {
        victim.killed = true;
        victim.child.kill('SIGKILL');
        kills++;
      }
      await victim.closed;
      const replacement = startPeer(victim.slot, nextId++, name, stopAt);
      peers.push(replacement);
      live[index] = replacement;
    }
    // Every peer stops by itself at stopAt; one that does not within the silence window is hung.
    const deadline = sleep(stopAt - Date.now() + SILENCE_MS).then(() => 'timeout');
    for (const peer of live) {
      if ((await Promise.race([peer.closed, deadline])) === 'timeout') {
        hangs.push(`${describe(peer)} did not stop`);
        peer.child.kill('SIGKILL');
        await peer.closed;
      }
    }
    return { name, seconds, kills, peers: peers.length, ...check(peers, stream, hangs) };
  } finally {
    for (const peer of peers) if (peer.exit === null) peer.child.kill('SIGKILL');
    await Promise.all(peers.map((peer) => peer.closed));
    stream.close();
    unlink(name);
  }
}

/** The state and kernel wait channel of a process, for the report of a hang. */
function processState(pid) {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[0];
    return `state ${state}, waiting in ${readFileSync(`/proc/${pid}/wchan`, 'utf8') || '-'}`;
  } catch {
    return 'gone';
  }
}

function describe(peer) {
  return `${peer.slot.kind} ${peer.slot.role} #${peer.id}`;
}

function check(peers, stream, hangs) {
  const failures = [...hangs];
  const intents = []; // { peer, k, count, odd }
  const done = new Set(); // `${id} ${k}`
  let reads = 0;
  let torn = 0;
  let tornAfterPyshmemOdd = 0;
  const errors = {};
  const tornValues = [];
  for (const peer of peers) {
    if (!peer.killed && (peer.exit.code !== 0 || !peer.lines.includes('end'))) {
      failures.push(`${describe(peer)} exited with ${peer.exit.signal ?? peer.exit.code}: ${peer.stderr.trim().slice(0, 500)}`);
    }
    let peerReads = 0;
    for (const text of peer.lines) {
      const [tag, ...fields] = text.split(' ');
      if (tag === 'i') intents.push({ peer, k: Number(fields[0]), count: Number(fields[1]), odd: fields[2] === '1' });
      else if (tag === 'd') done.add(`${peer.id} ${fields[0]}`);
      else if (tag === 'r') peerReads = Number(fields[0]);
      else if (tag === 't') tornValues.push({ peer, values: fields.map(Number) });
      else if (tag === 's') failures.push(`${describe(peer)}: an operation took ${fields[0]} ms (timeout ${OP_TIMEOUT_MS})`);
      else if (tag === 'e') errors[fields[0]] = (errors[fields[0]] ?? 0) + 1;
    }
    reads += peerReads;
  }

  // A pyshmem 1.0.2 write over an odd sequence (left by a killed writer) copies under an even one: its torn frames are pyshmem's.
  const pyshmemOverOdd = new Set(intents.filter(({ peer, odd }) => peer.slot.kind === 'python' && odd).map(({ peer, k }) => peer.id * FRAME + k));
  for (const { peer, values } of tornValues) {
    if (values.some((value) => pyshmemOverOdd.has(value))) tornAfterPyshmemOdd++;
    else {
      torn++;
      if (torn <= 5) failures.push(`${describe(peer)} read a torn frame: values ${values.join(', ')}`);
    }
  }
  if (torn > 5) failures.push(`${torn} torn frames in all`);

  const finalCount = stream.count;
  const completedIntents = intents.filter(({ peer, k }) => done.has(`${peer.id} ${k}`));
  const killedIntents = intents.filter(({ peer, k }) => !done.has(`${peer.id} ${k}`));
  const doneCounts = new Map();
  for (const { count } of completedIntents) doneCounts.set(count, (doneCounts.get(count) ?? 0) + 1);
  const seenCounts = new Set(intents.map(({ count }) => count));
  for (const [count, times] of doneCounts) if (times > 1) failures.push(`${times} completed writes all started from count ${count}: an increment was lost`);
  for (const { count } of completedIntents) if (count >= finalCount) failures.push(`a completed write started from count ${count}, but the final count is ${finalCount}`);
  let unseen = 0;
  for (let count = 0; count < finalCount; count++) if (!seenCounts.has(count)) unseen++;
  if (unseen > 0) failures.push(`${unseen} count values below the final count were seen by no writer: increments without a write`);
  const killedCompleted = new Set(killedIntents.filter(({ count }) => count < finalCount && !doneCounts.has(count)).map(({ count }) => count)).size;
  const completedWrites = completedIntents.length + killedCompleted;
  if (finalCount !== completedWrites) failures.push(`final count ${finalCount} != ${completedWrites} completed writes`);
  if (completedIntents.length === 0 || reads === 0) failures.push('no completed writes or no reads');
  const expectedErrors = new Set(['ERR_WRITE_INTERRUPTED']);
  for (const code of Object.keys(errors)) if (!expectedErrors.has(code)) failures.push(`${errors[code]} operations failed with ${code}`);

  return {
    finalCount,
    completedWrites,
    writesWithDoneLine: completedIntents.length,
    killedMidWrite: killedIntents.length,
    killedMidWriteCompleted: killedCompleted,
    pyshmemWritesOverOddSequence: pyshmemOverOdd.size,
    reads,
    torn,
    tornAfterPyshmemOdd,
    errors,
    failures,
  };
}

/** What a stream leaves behind: /dev/shm objects and its lock file. */
export function remains(name) {
  const base = baseName(name);
  return [...readdirSync('/dev/shm').filter((entry) => entry.startsWith(base)), ...(existsSync(lockPath(name)) ? [lockPath(name)] : [])];
}

/** The command: prints the figures; the exit code (0 or 1). */
export async function faultSoakMain(seconds) {
  console.log(`fault soak: ${DEFAULT_SLOTS.map((slot) => `${slot.kind} ${slot.role.replace('fault-', '')}`).join(', ')}; a SIGKILL every ${KILL_INTERVAL_MS.join('-')} ms; ${seconds} s`);
  const result = await runFaultSoak({ seconds });
  const left = remains(result.name);
  if (left.length > 0) result.failures.push(`left behind: ${left.join(', ')}`);
  const { failures, name, ...figures } = result;
  console.log(JSON.stringify(figures, null, 2));
  if (failures.length > 0) {
    console.log(`FAILED:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  console.log('OK');
  return 0;
}
