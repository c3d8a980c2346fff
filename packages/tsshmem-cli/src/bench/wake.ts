/**
 * Wake latency: two processes ping-pong 128x128 float32 frames; the median and
 * 99th percentile round trip of tsshmem's ways to wait, beside C references
 * measured in the same run (bare futex and spin on one word: the kernel's and
 * the cores' limits; protocol + futex and protocol + spin: the same work a
 * stream round trip must do). Also the CPU use of a reader idle in next(),
 * and how soon next() returns the writes of a writer that wakes nobody
 * (pyshmem's kind, played by bench/c/silent_writer.c).
 */
import { isSkipped, type Skipped } from './c-references.js';
import { type Launch, startPeer } from './children.js';
import { withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import type { Latency } from './measure.js';
import { locateByName } from 'tsshmem/internal';
import type { IdleReaderArguments, IdleReaderReport } from './peers/idle-reader.js';
import type { PingPongArguments, WaitMethod } from './peers/pingpong-protocol.js';
import type { SilentReaderArguments, SilentWriteDelay } from './peers/silent-reader.js';
import { describePlacement, pingPongPlacement, type Placement } from './placement.js';
import type { SectionOutcome, Table } from './report.js';
import { coreShareBelow, latencyAtMost, timesAtMost, type TargetCheck } from './targets.js';
import { formatMicros, formatPercent, formatTimes, payloadBytes } from './units.js';
import { formatShapeArgument } from '../cli/parse.js';

const FRAME_SHAPE = [128, 128];
const SPIN_MS = 0.2;
const IDLE_SECONDS = 2;
const QUICK_IDLE_SECONDS = 0.5;
/** Silent writes per case, at random gaps of 2 to 12 ms (7 ms on average). */
const SILENT_WRITES = 300;
const QUICK_SILENT_WRITES = 60;
const SILENT_GAP_MS = [2, 12] as const;
const SILENT_WRITE_LIMIT_US = 2000;

type ReferenceKey = 'bareFutex' | 'bareSpin' | 'protocolFutex' | 'protocolSpin';
type TsshmemKey = 'next' | 'spin' | 'readNewSync' | 'exclusiveNext' | 'exclusiveSpin';
type SilentKey = 'attached' | 'attachEach';

interface ReferenceCase {
  readonly mode: string;
  readonly label: string;
}

interface TsshmemCase {
  readonly label: string;
  readonly wait: WaitMethod;
  readonly exclusiveWriter: boolean;
  /** The same-work C reference it is compared with. */
  readonly reference: 'protocolFutex' | 'protocolSpin';
}

const REFERENCE_CASES: Readonly<Record<ReferenceKey, ReferenceCase>> = {
  bareFutex: { mode: 'bare-futex', label: 'C: bare futex ping-pong on one word' },
  bareSpin: { mode: 'bare-spin', label: 'C: bare spin ping-pong on one word' },
  protocolFutex: { mode: 'protocol-futex', label: 'C: protocol (write + safe read of 64 KiB) + futex wake' },
  protocolSpin: { mode: 'protocol-spin', label: 'C: protocol (write + safe read of 64 KiB) + spin' },
};

const TSSHMEM_CASES: Readonly<Record<TsshmemKey, TsshmemCase>> = {
  next: { label: 'await next()', wait: 'next', exclusiveWriter: false, reference: 'protocolFutex' },
  spin: { label: `await next({ spin: ${SPIN_MS} })`, wait: 'spin', exclusiveWriter: false, reference: 'protocolSpin' },
  readNewSync: { label: 'readNewSync()', wait: 'sync', exclusiveWriter: false, reference: 'protocolFutex' },
  exclusiveNext: { label: 'exclusiveWriter, await next()', wait: 'next', exclusiveWriter: true, reference: 'protocolFutex' },
  exclusiveSpin: { label: `exclusiveWriter, await next({ spin: ${SPIN_MS} })`, wait: 'spin', exclusiveWriter: true, reference: 'protocolSpin' },
};

/** How the silent writer holds the lock file: bench/c/silent_writer.c's modes. */
const SILENT_CASES: Readonly<Record<SilentKey, { readonly mode: string; readonly label: string }>> = {
  attached: { mode: 'attached', label: 'attached throughout' },
  attachEach: { mode: 'attach-each', label: 'opens the lock file just before each write, closes it after' },
};

export interface WakeFigures {
  readonly frameShape: readonly number[];
  readonly spinMs: number;
  readonly placement: Placement;
  readonly references: Readonly<Record<ReferenceKey, Latency | Skipped>>;
  readonly tsshmem: Readonly<Record<TsshmemKey, Latency>>;
  readonly idleReader: IdleReaderReport;
  /** From a silent write's completion to next() returning it, on a tsshmem-created stream. */
  readonly silentWrites: Readonly<Record<SilentKey, SilentWriteDelay | Skipped>>;
}

export async function runWake(context: BenchContext): Promise<SectionOutcome> {
  const placement = pingPongPlacement((await context.references()).skipReason === null);
  const references = await measureEach(REFERENCE_CASES, async (reference) => {
    await context.progress.step(`wake: ${reference.label}`);
    return measureReference(context, reference.mode, placement);
  });
  const tsshmem = await measureEach(TSSHMEM_CASES, async (wakeCase) => {
    await context.progress.step(`wake: tsshmem ping-pong, ${wakeCase.label}`);
    return measurePingPong(context, wakeCase, placement);
  });
  await context.progress.step('wake: CPU use of an idle reader in next()');
  const idleReader = await measureIdleReader(context);
  const silentWrites = await measureEach(SILENT_CASES, async (silentCase) => {
    await context.progress.step(`wake: next() after writes that wake nobody, writer ${silentCase.label}`);
    return measureSilentWrites(context, silentCase.mode);
  });
  const figures: WakeFigures = { frameShape: FRAME_SHAPE, spinMs: SPIN_MS, placement, references, tsshmem, idleReader, silentWrites };
  return { tables: [latencyTable(figures), silentTable(figures)], targets: wakeTargets(figures), figures };
}

async function measureReference(context: BenchContext, mode: string, placement: Placement): Promise<Latency | Skipped> {
  const { seconds, warmupSeconds } = context.timing;
  const args = [mode, payloadBytes(FRAME_SHAPE), seconds, warmupSeconds, placement.initiatorCpu, placement.echoCpu];
  return (await context.references()).run<Latency>('pingpong_reference', args);
}

async function measurePingPong(context: BenchContext, wakeCase: TsshmemCase, placement: Placement): Promise<Latency> {
  const { cleanup, timing } = context;
  const references = await context.references();
  const onCpu = (cpu: number) => (launch: Launch) => (cpu < 0 ? launch : references.onCpu(cpu, launch));
  return withStream(cleanup, 'wake-ping', FRAME_SHAPE, {}, (ping) =>
    withStream(cleanup, 'wake-pong', FRAME_SHAPE, {}, async (pong) => {
      const args = { wait: wakeCase.wait, spinMs: SPIN_MS, exclusiveWriter: wakeCase.exclusiveWriter, ping: ping.name, pong: pong.name, ...timing };
      const echo = startPeer<Record<string, never>>(cleanup, 'pingpong', { ...args, role: 'echo' } satisfies PingPongArguments, onCpu(placement.echoCpu));
      await echo.ready;
      const initiator = startPeer<Latency>(
        cleanup,
        'pingpong',
        { ...args, role: 'initiator' } satisfies PingPongArguments,
        onCpu(placement.initiatorCpu),
      );
      const [latency] = await Promise.all([initiator.result, echo.result]);
      return latency;
    }),
  );
}

function measureIdleReader(context: BenchContext): Promise<IdleReaderReport> {
  const seconds = context.quick ? QUICK_IDLE_SECONDS : IDLE_SECONDS;
  return withStream(context.cleanup, 'wake-idle', FRAME_SHAPE, {}, (stream) =>
    startPeer<IdleReaderReport>(context.cleanup, 'idle-reader', { name: stream.name, seconds } satisfies IdleReaderArguments).result,
  );
}

async function measureSilentWrites(context: BenchContext, mode: string): Promise<SilentWriteDelay | Skipped> {
  const references = await context.references();
  if (references.skipReason !== null) return { skipped: references.skipReason };
  const writes = context.quick ? QUICK_SILENT_WRITES : SILENT_WRITES;
  const seconds = (writes * SILENT_GAP_MS[1]) / 1000;
  return withStream(context.cleanup, 'wake-silent', FRAME_SHAPE, {}, async (stream) => {
    const reader = startPeer<SilentWriteDelay>(context.cleanup, 'silent-reader', { name: stream.name, writes, seconds } satisfies SilentReaderArguments);
    await reader.ready;
    const { meta, data, lockPath } = locateByName(stream.name);
    await references.runSilentWriter<object>([mode, meta, data, lockPath, writes, ...SILENT_GAP_MS]);
    return reader.result;
  });
}

function silentTable(figures: WakeFigures): Table {
  const rows = entries(SILENT_CASES).map(([key, silentCase]) => {
    const delay = figures.silentWrites[key];
    if (isSkipped(delay)) return [silentCase.label, delay.skipped, '-', '-'];
    return [silentCase.label, formatMicros(delay.medianUs), formatMicros(delay.p99Us), formatMicros(delay.maxUs)];
  });
  return {
    title: 'Writes that wake nobody (pyshmem): from the write to await next() returning it',
    columns: ['writer (C, pyshmem format, lock file opened for append)', 'median', 'p99', 'max'],
    rows,
    notes: [
      `On a stream created by tsshmem, ${formatShapeArgument(figures.frameShape)} float32, writes at random gaps of ${SILENT_GAP_MS[0]} to ${SILENT_GAP_MS[1]} ms; measured from the write time the writer stores.`,
    ],
  };
}

function latencyTable(figures: WakeFigures): Table {
  const referenceRows = entries(REFERENCE_CASES).map(([key, reference]) => {
    const latency = figures.references[key];
    if (isSkipped(latency)) return [reference.label, latency.skipped, '-', '-'];
    return [reference.label, formatMicros(latency.medianUs), formatMicros(latency.p99Us), '-'];
  });
  const tsshmemRows = entries(TSSHMEM_CASES).map(([key, wakeCase]) => {
    const latency = figures.tsshmem[key];
    const reference = figures.references[wakeCase.reference];
    const ratio = isSkipped(reference) ? '-' : `${formatTimes(latency.medianUs / reference.medianUs)} ${REFERENCE_NAMES[wakeCase.reference]}`;
    return [`tsshmem: ${wakeCase.label}`, formatMicros(latency.medianUs), formatMicros(latency.p99Us), ratio];
  });
  const idle = figures.idleReader;
  return {
    title: `Wake latency: ping-pong of ${formatShapeArgument(FRAME_SHAPE)} float32 frames between two processes`,
    columns: ['mechanism', 'round trip, median', 'p99', 'median vs same-work C'],
    rows: [...referenceRows, ...tsshmemRows],
    notes: [
      'A round trip is two hops; each hop is one write of the frame, the wake, and one safe read of it into a reused array.',
      `Placement, the same for every row: ${describePlacement(figures.placement)}.`,
      `Idle reader awaiting next() with no writes: ${formatPercent(idle.coreShare)} of a core (process.cpuUsage over ${idle.seconds.toFixed(1)} s).`,
    ],
  };
}

const REFERENCE_NAMES: Readonly<Record<'protocolFutex' | 'protocolSpin', string>> = {
  protocolFutex: 'protocol + futex',
  protocolSpin: 'protocol + spin',
};

function wakeTargets(figures: WakeFigures): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const relative = (key: TsshmemKey, maximum: number, target: string): void => {
    const reference = figures.references[TSSHMEM_CASES[key].reference];
    if (isSkipped(reference)) return;
    checks.push(timesAtMost(target, figures.tsshmem[key].medianUs / reference.medianUs, maximum, REFERENCE_NAMES[TSSHMEM_CASES[key].reference]));
  };
  relative('next', 1.25, 'wake, sleeping mode (await next()), median');
  relative('spin', 1.5, `wake, spin mode (next({ spin: ${SPIN_MS} })), median`);
  checks.push(coreShareBelow('idle waiting reader', figures.idleReader.coreShare, 0.01));
  for (const [key, silentCase] of entries(SILENT_CASES)) {
    const delay = figures.silentWrites[key];
    if (!isSkipped(delay)) checks.push(latencyAtMost(`pyshmem-style write to next(), writer ${silentCase.label}, p99`, delay.p99Us, SILENT_WRITE_LIMIT_US));
  }
  return checks;
}

/** Measures each case in turn. */
async function measureEach<K extends string, V, R>(cases: Readonly<Record<K, V>>, measure: (value: V) => Promise<R>): Promise<Record<K, R>> {
  const results: [K, R][] = [];
  for (const [key, value] of entries(cases)) results.push([key, await measure(value)]);
  return Object.fromEntries(results) as Record<K, R>;
}

function entries<K extends string, V>(record: Readonly<Record<K, V>>): [K, V][] {
  return Object.entries(record) as [K, V][];
}
