/**
 * Python producers: a Python process (tsshmem for Python, python/ in the
 * repository, or installed with pip) hands frames of a ring stream over to a
 * Node process, ping-pong, with loan() + publish() in Python and
 * nextSample() in Node; beside it, in the same run, pyshmem's own ping-pong
 * between two Python processes (write() + a polled safe read, pyshmem
 * 1.0.2's format and protocol, bench/python/handover.py).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { collectOutput, describeEnd, type Peer, READY_LINE, startPeer } from './children.js';
import { type BenchStreamOptions, type Cleanup, withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import type { Latency, Timing } from './measure.js';
import type { RingHandoverArguments } from './peers/ring-handover.js';
import type { SectionOutcome, Table } from './report.js';
import { reported, type TargetCheck } from './targets.js';
import { formatHz, formatMicros, formatTimes, describePayload } from './units.js';

/** 64 KiB and 4 MiB of float32. */
const SHAPES: readonly (readonly number[])[] = [[128, 128], [1024, 1024]];
const SCRIPT = fileURLToPath(new URL('../../bench/python/handover.py', import.meta.url));
/** The repository's python/ (tsshmem for Python), when the CLI runs from a checkout. */
const REPOSITORY_PYTHON = fileURLToPath(new URL('../../../../python', import.meta.url));

interface Case {
  readonly shape: readonly number[];
  readonly ring: Latency;
  readonly pyshmem: Latency;
}

export type PythonFigures = { readonly skipped: string } | { readonly cases: readonly Case[] };

export async function runPython(context: BenchContext): Promise<SectionOutcome> {
  const environment = pythonEnvironment();
  const unavailable = probe(environment);
  if (unavailable !== null) {
    const figures: PythonFigures = { skipped: unavailable };
    return { tables: [skippedTable(unavailable)], targets: [reported('Python loan + publish to Node nextSample(), round trip', `skipped: ${unavailable}`)], figures };
  }
  const cases: Case[] = [];
  for (const shape of SHAPES) {
    await context.progress.step(`python: ${describePayload(shape)}, Python loan() + publish() to Node nextSample(), ping-pong`);
    const ring = await ringHandover(context, environment, shape);
    await context.progress.step(`python: ${describePayload(shape)}, pyshmem write() + safe read, Python to Python, ping-pong`);
    const pyshmem = await pyshmemPingPong(context, environment, shape);
    cases.push({ shape, ring, pyshmem });
  }
  const figures: PythonFigures = { cases };
  return { tables: [handoverTable(cases)], targets: targets(cases), figures };
}

function pythonEnvironment(): NodeJS.ProcessEnv {
  if (!existsSync(REPOSITORY_PYTHON)) return process.env;
  const paths = [REPOSITORY_PYTHON, process.env.PYTHONPATH].filter((path) => path !== undefined && path !== '');
  return { ...process.env, PYTHONPATH: paths.join(':') };
}

/** Why the section cannot run here, or null. */
function probe(env: NodeJS.ProcessEnv): string | null {
  const check = spawnSync('python3', ['-c', 'import numpy, tsshmem; tsshmem._atomics.load()'], { env, encoding: 'utf8', timeout: 60000 });
  if (check.error !== undefined) return `python3 did not run (${check.error.message})`;
  if (check.status !== 0) return `python3 cannot import numpy and tsshmem (pip install ./python): ${check.stderr.trim().split('\n').at(-1) ?? ''}`;
  return null;
}

/** Starts bench/python/handover.py in a role; like startPeer for the Node peers. */
function startPython<T>(cleanup: Cleanup, env: NodeJS.ProcessEnv, role: string, args: object): Peer<T> {
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  const child = spawn('python3', [SCRIPT, role, JSON.stringify(args)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.trackChild(child);
  const finished = collectOutput(child, (line) => {
    if (line === READY_LINE) signalReady();
  });
  const result = finished.then((run) => {
    const lastLine = run.stdout.trim().split('\n').at(-1) ?? '';
    if (run.code !== 0 || !lastLine.startsWith('{')) throw new Error(`handover.py ${role} failed (${describeEnd(run)}): ${run.stderr.trim() || 'no output'}`);
    return JSON.parse(lastLine) as T;
  });
  return { ready: Promise.race([ready, result.then(() => undefined)]), result };
}

function ringHandover(context: BenchContext, env: NodeJS.ProcessEnv, shape: readonly number[]): Promise<Latency> {
  const { cleanup, timing } = context;
  // As the ring section's hand-over: two slots, no pyshmem-visible copy, so a publish moves no frame bytes.
  const options: BenchStreamOptions = { history: 2, pyshmemFrame: false };
  return withStream(cleanup, 'python-ping', shape, options, (ping) =>
    withStream(cleanup, 'python-pong', shape, options, async (pong) => {
      const args = { ping: ping.name, pong: pong.name, ...timing };
      const echo = startPeer<object>(cleanup, 'ring-handover', { ...args, role: 'echo', spinMs: 0 } satisfies RingHandoverArguments);
      await echo.ready;
      const initiator = startPython<Latency>(cleanup, env, 'ring-initiator', args);
      const [latency] = await Promise.all([initiator.result, echo.result]);
      return latency;
    }),
  );
}

function pyshmemPingPong(context: BenchContext, env: NodeJS.ProcessEnv, shape: readonly number[]): Promise<Latency> {
  const { cleanup, timing } = context;
  return withStream(cleanup, 'pyshmem-ping', shape, {}, (ping) =>
    withStream(cleanup, 'pyshmem-pong', shape, {}, async (pong) => {
      const args: { ping: string; pong: string } & Timing = { ping: ping.name, pong: pong.name, ...timing };
      const echo = startPython<object>(cleanup, env, 'pyshmem-echo', args);
      await echo.ready;
      const initiator = startPython<Latency>(cleanup, env, 'pyshmem-initiator', args);
      const [latency] = await Promise.all([initiator.result, echo.result]);
      return latency;
    }),
  );
}

function handoverTable(cases: readonly Case[]): Table {
  const rows = cases.flatMap(({ shape, ring, pyshmem }) => [
    [`${describePayload(shape)}, Python loan() + publish() -> Node nextSample()`, formatMicros(ring.medianUs), formatMicros(ring.p99Us), formatHz(1e6 / ring.medianUs), formatTimes(pyshmem.medianUs / ring.medianUs)],
    [`${describePayload(shape)}, pyshmem write() + safe read, Python <-> Python`, formatMicros(pyshmem.medianUs), formatMicros(pyshmem.p99Us), formatHz(1e6 / pyshmem.medianUs), '-'],
  ]);
  return {
    title: 'Python producers: a frame handed from Python to Node, ping-pong',
    columns: ['frame, hand-over', 'round trip, median', 'p99', 'round trips per second', 'faster than pyshmem'],
    rows,
    notes: [
      'Ring: per hop, Python loan() (takes the lock), one element written, publish() (wakes the Node reader through its socket); Node nextSample(), reads one element, release(), answers with loan() + publish(); Python next_view(), sleeping in futex(2). Rings of 2 slots, pyshmemFrame: false; no frame byte is copied.',
      'pyshmem: per hop, write() of the whole frame (flock, seqlock, copy), the reader polls the count every 10 us (as pyshmem) and makes a safe read (a copy): two copies of the frame per hop.',
      'bench/python/handover.py; processes not pinned to CPUs.',
    ],
  };
}

function skippedTable(reason: string): Table {
  return { title: 'Python producers: a frame handed from Python to Node, ping-pong', columns: ['case', 'result'], rows: [['every case', `skipped: ${reason}`]] };
}

function targets(cases: readonly Case[]): TargetCheck[] {
  return cases.map(({ shape, ring, pyshmem }) =>
    reported(
      `Python loan + publish to Node nextSample(), ${describePayload(shape)}, round trip`,
      `${formatMicros(ring.medianUs)} median (pyshmem Python <-> Python: ${formatMicros(pyshmem.medianUs)}, ${formatTimes(pyshmem.medianUs / ring.medianUs)})`,
    ),
  );
}
