#!/usr/bin/env node
// Soak test: 3 writer and 3 reader processes on one stream for --seconds,
// every frame a constant fill checked by the readers, then --cycles
// open/read/close cycles (100,000 by default) watching descriptors, memory
// mappings and RSS. Prints what it saw; exits 1 on any torn snapshot, lost
// or extra write, error, or growth of descriptors, mappings or RSS.
//
//   node scripts/soak.js --seconds 60 [--cycles 100000] [--writers 3] [--readers 3]
//   node scripts/soak.js --faults [--seconds 600]
//
// --faults (the fault soak, scripts/fault-soak.js): Node and pyshmem writers
// and readers while a chaos loop SIGKILLs random ones and starts new ones;
// exits 1 unless no frame was torn, no operation hung, the final count
// equals the completed writes and nothing of the stream is left behind.
//
// Needs the build (npm run build). The workers are test/peers/stress_peer.js.
// The functions are exported for test/64-stress.test.js.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { create, unlink } from '../packages/tsshmem/dist/index.js';
import { faultSoakMain } from './fault-soak.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'peers', 'stress_peer.js');
export const FRAME_SHAPE = [256, 256];

/** Leak limits over the measured cycles (after warm-up). */
export const LIMITS = { rssBytes: 16 * 2 ** 20, heapBytes: 8 * 2 ** 20, mappings: 32, fds: 0 };

/** Starts a stress_peer.js child; `ready` resolves on its "ready" line, `done` with its JSON report. */
function startPeer(args, { nodeFlags = [], timeout }) {
  const child = spawn(process.execPath, [...nodeFlags, PEER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady;
  const ready = new Promise((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    if (/^ready$/m.test(stdout)) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      markReady();
      const line = stdout.trim().split('\n').at(-1);
      if (code !== 0 || !line?.startsWith('{')) {
        reject(new Error(`${args.role} ${args.id ?? ''} failed (${signal ?? `exit ${code}`}): ${stderr || stdout}`));
      } else {
        resolve(JSON.parse(line));
      }
    });
  });
  done.catch(() => {});
  return { child, ready, done };
}

/**
 * Runs writers and readers on stream `name` (float64 FRAME_SHAPE) for
 * `seconds`, all starting together. Resolves with their reports and totals.
 */
export async function runStress({ name, seconds, writers = 3, readers = 3 }) {
  const goDirectory = mkdtempSync(join(tmpdir(), 'tsshmem-soak-'));
  const go = join(goDirectory, 'go');
  const timeout = (seconds + 120) * 1000;
  const peers = [
    ...Array.from({ length: writers }, (_, i) => startPeer({ role: 'writer', id: i + 1, name, seconds, go }, { timeout })),
    ...Array.from({ length: readers }, (_, i) => startPeer({ role: 'reader', id: i + 1, name, seconds, go, mode: i === readers - 1 && readers > 1 ? 'next' : 'read' }, { timeout })),
  ];
  try {
    await Promise.all(peers.map((peer) => peer.ready));
    writeFileSync(go, '');
    const reports = await Promise.all(peers.map((peer) => peer.done));
    const sum = (role, key) => reports.filter((r) => r.role === role).reduce((total, r) => total + r[key], 0);
    const errors = reports.flatMap((r) => Object.entries(r.errors).map(([error, times]) => `${r.role} ${r.id}: ${error} (x${times})`));
    return {
      reports,
      writes: sum('writer', 'writes'),
      reads: sum('reader', 'reads'),
      torn: sum('reader', 'torn'),
      frameRegressions: sum('reader', 'frameRegressions'),
      countRegressions: sum('reader', 'countRegressions'),
      errors,
    };
  } finally {
    for (const peer of peers) peer.child.kill('SIGKILL');
    rmSync(goDirectory, { recursive: true, force: true });
  }
}

/** Runs open/read/close cycles on `name` in a child process with --expose-gc; resolves with its report. */
export function runLeak({ name, cycles, warmup = 5000, gcEvery = 100 }) {
  return startPeer({ role: 'leak', name, cycles, warmup, gcEvery }, { nodeFlags: ['--expose-gc'], timeout: 30 * 60 * 1000 }).done;
}

/** The leak limits a report exceeds, in words; empty when flat. */
export function leakProblems(report) {
  const { before, after } = report;
  const problems = [];
  if (after.fds - before.fds > LIMITS.fds) problems.push(`descriptors ${before.fds} -> ${after.fds}`);
  if (after.mappings - before.mappings > LIMITS.mappings) problems.push(`memory mappings ${before.mappings} -> ${after.mappings}`);
  if (after.rss - before.rss > LIMITS.rssBytes) problems.push(`RSS ${mib(before.rss)} -> ${mib(after.rss)}`);
  if (after.heapUsed - before.heapUsed > LIMITS.heapBytes) problems.push(`V8 heap ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}`);
  return problems;
}

export function mib(bytes) {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function parseArguments(argv) {
  const options = { seconds: 10, cycles: 100000, writers: 3, readers: 3, faults: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--faults') {
      options.faults = true;
      continue;
    }
    const key = argv[i].replace(/^--/, '');
    if (!(key in options) || argv[i + 1] === undefined) throw new Error(`usage: node scripts/soak.js --seconds N [--cycles N] [--writers N] [--readers N] | --faults [--seconds N] (got ${argv[i]})`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${key} needs a number, got ${argv[i]}`);
    options[key] = value;
  }
  return options;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.faults) process.exit(await faultSoakMain(process.argv.includes('--seconds') ? options.seconds : 600));
  const name = `tsshmem-soak/${process.pid}/${Date.now()}`;
  const failures = [];
  const stream = create(name, { shape: FRAME_SHAPE, dtype: 'float64' });
  const cleanUp = () => {
    stream.close();
    unlink(name);
  };
  process.once('SIGINT', () => {
    cleanUp();
    process.exit(130);
  });
  try {
    console.log(`stream: ${JSON.stringify(name)}`);
    console.log(`stress: ${options.writers} writers, ${options.readers} readers, ${options.seconds} s, frames of float64 [${FRAME_SHAPE}]`);
    const stress = await runStress({ name, ...options });
    for (const report of stress.reports) {
      const detail = report.role === 'writer' ? `${report.writes} writes` : `${report.reads} reads, ${report.torn} torn, writers seen ${report.writersSeen.join(',')}`;
      console.log(`  ${report.role} ${report.id}: ${detail}`);
    }
    console.log(`  writes ${stress.writes}, final count ${stream.count}, reads ${stress.reads}, torn snapshots ${stress.torn}, frames going backwards ${stress.frameRegressions}, counts going backwards ${stress.countRegressions}, errors ${stress.errors.length}`);
    if (stream.count !== stress.writes) failures.push(`final count ${stream.count} != ${stress.writes} writes`);
    if (stress.torn > 0) failures.push(`${stress.torn} torn snapshots`);
    if (stress.frameRegressions > 0) failures.push(`${stress.frameRegressions} frames went backwards`);
    if (stress.countRegressions > 0) failures.push(`${stress.countRegressions} counts went backwards`);
    if (stress.writes === 0 || stress.reads === 0) failures.push('no writes or no reads');
    failures.push(...stress.errors);

    if (options.cycles > 0) {
      for (const gcEvery of [100, 0]) {
        const leak = await runLeak({ name, cycles: options.cycles, gcEvery });
        const { before, after } = leak;
        const how = gcEvery > 0 ? `collecting garbage every ${gcEvery} cycles` : 'collection left to V8 (information only)';
        console.log(`leak: ${leak.cycles} open/read/close cycles after ${leak.warmup} warm-up, ${how}, ${leak.seconds.toFixed(1)} s`);
        console.log(`  descriptors ${before.fds} -> ${after.fds}; memory mappings ${before.mappings} -> ${after.mappings}`);
        console.log(`  RSS ${mib(before.rss)} -> ${mib(after.rss)} (peak ${mib(leak.peakRss)}); V8 heap used ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}; external ${mib(before.external)} -> ${mib(after.external)}`);
        if (gcEvery > 0) failures.push(...leakProblems(leak).map((problem) => `leak: ${problem}`));
      }
    }
  } catch (error) {
    failures.push(error.stack ?? String(error));
  } finally {
    cleanUp();
  }
  if (failures.length > 0) {
    console.log(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('OK');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
