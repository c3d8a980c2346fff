/**
 * Wake latency: two processes ping-pong 128x128 float32 frames; the median and
 * 99th percentile round trip of tsshmem's ways to wait, beside C references
 * measured in the same run and the same placement (bare futex and spin on one
 * word: the kernel's and the cores' limits; protocol + futex and protocol +
 * spin: the same work a stream round trip must do; protocol + datagram: that
 * work woken as next() is, by its event loop), with both sides on one
 * CPU and on separate CPUs (placement.ts). Also the CPU use of a reader idle in next(),
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
import { describePlacement, PLACEMENT_TITLES, pingPongPlacements, type Placement, type PlacementKey } from './placement.js';
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

type ReferenceKey = 'bareFutex' | 'bareSocket' | 'bareSpin' | 'protocolFutex' | 'protocolSocket' | 'protocolSpin';
type TsshmemKey = 'next' | 'spin' | 'readNewSync' | 'exclusiveNext' | 'exclusiveSpin';
type SilentKey = 'attached' | 'attachEach';

interface ReferenceCase {
  readonly mode: string;
  readonly label: string;
  readonly spins: boolean;
}

interface TsshmemCase {
  readonly label: string;
  readonly wait: WaitMethod;
  readonly exclusiveWriter: boolean;
  /** The same-work C reference it is compared with. */
  readonly reference: 'protocolFutex' | 'protocolSpin';
  readonly spins: boolean;
}

const REFERENCE_CASES: Readonly<Record<ReferenceKey, ReferenceCase>> = {
  bareFutex: { mode: 'bare-futex', label: 'C: bare futex ping-pong on one word', spins: false },
  bareSocket: { mode: 'bare-socket', label: "C: bare ping-pong woken by a datagram, awaited as Node's event loop does (next()'s wake transport)", spins: false },
  bareSpin: { mode: 'bare-spin', label: 'C: bare spin ping-pong on one word', spins: true },
  protocolFutex: { mode: 'protocol-futex', label: 'C: protocol (write + safe read of 64 KiB) + futex wake', spins: false },
  protocolSocket: { mode: 'protocol-socket', label: "C: protocol (write + safe read of 64 KiB) + next()'s datagram wake, awaited as Node's event loop does", spins: false },
  protocolSpin: { mode: 'protocol-spin', label: 'C: protocol (write + safe read of 64 KiB) + spin', spins: true },
};

const TSSHMEM_CASES: Readonly<Record<TsshmemKey, TsshmemCase>> = {
  next: { label: 'await next()', wait: 'next', exclusiveWriter: false, reference: 'protocolFutex', spins: false },
  spin: { label: `await next({ spin: ${SPIN_MS} })`, wait: 'spin', exclusiveWriter: false, reference: 'protocolSpin', spins: true },
  readNewSync: { label: 'readNewSync()', wait: 'sync', exclusiveWriter: false, reference: 'protocolFutex', spins: false },
  exclusiveNext: { label: 'exclusiveWriter, await next()', wait: 'next', exclusiveWriter: true, reference: 'protocolFutex', spins: false },
  exclusiveSpin: {
    label: `exclusiveWriter, await next({ spin: ${SPIN_MS} })`,
    wait: 'spin',
    exclusiveWriter: true,
    reference: 'protocolSpin',
    spins: true,
  },
};

/** How the silent writer holds the lock file: bench/c/silent_writer.c's modes. */
const SILENT_CASES: Readonly<Record<SilentKey, { readonly mode: string; readonly label: string }>> = {
  attached: { mode: 'attached', label: 'attached throughout' },
  attachEach: { mode: 'attach-each', label: 'opens the lock file just before each write, closes it after' },
};

/** The ping-pongs of one placement; the spinning cases are absent where it does not spin. */
export interface PlacementFigures {
  readonly placement: Placement;
  readonly references: Readonly<Partial<Record<ReferenceKey, Latency | Skipped>>>;
  readonly tsshmem: Readonly<Partial<Record<TsshmemKey, Latency>>>;
}

export interface WakeFigures {
  readonly frameShape: readonly number[];
  readonly spinMs: number;
  readonly placements: Readonly<Partial<Record<PlacementKey, PlacementFigures>>>;
  readonly idleReader: IdleReaderReport;
  /** From a silent write's completion to next() returning it, on a tsshmem-created stream. */
  readonly silentWrites: Readonly<Record<SilentKey, SilentWriteDelay | Skipped>>;
}

export async function runWake(context: BenchContext): Promise<SectionOutcome> {
  const placements: Partial<Record<PlacementKey, PlacementFigures>> = {};
  for (const placement of pingPongPlacements((await context.references()).skipReason === null)) {
    placements[placement.key] = await measurePlacement(context, placement);
  }
  await context.progress.step('wake: CPU use of an idle reader in next()');
  const idleReader = await measureIdleReader(context);
  const silentWrites = await measureEach(SILENT_CASES, async (silentCase) => {
    await context.progress.step(`wake: next() after writes that wake nobody, writer ${silentCase.label}`);
    return measureSilentWrites(context, silentCase.mode);
  });
  const figures: WakeFigures = { frameShape: FRAME_SHAPE, spinMs: SPIN_MS, placements, idleReader, silentWrites };
  return { tables: [latencyTable(figures), silentTable(figures)], targets: wakeTargets(figures), figures };
}

async function measurePlacement(context: BenchContext, placement: Placement): Promise<PlacementFigures> {
  const where = PLACEMENT_TITLES[placement.key];
  const references = await measureEach(onlySpinning(REFERENCE_CASES, placement), async (reference) => {
    await context.progress.step(`wake, ${where}: ${reference.label}`);
    return measureReference(context, reference.mode, placement);
  });
  const tsshmem = await measureEach(onlySpinning(TSSHMEM_CASES, placement), async (wakeCase) => {
    await context.progress.step(`wake, ${where}: tsshmem ping-pong, ${wakeCase.label}`);
    return measurePingPong(context, wakeCase, placement);
  });
  return { placement, references, tsshmem };
}

/** The cases a placement runs: the spinning ones only where it spins. */
function onlySpinning<K extends string, V extends { readonly spins: boolean }>(cases: Readonly<Record<K, V>>, placement: Placement): Partial<Record<K, V>> {
  return Object.fromEntries(entries(cases).filter(([, value]) => placement.spins || !value.spins)) as Partial<Record<K, V>>;
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
  const measured = Object.values(figures.placements) as PlacementFigures[];
  const referenceRows = entries(REFERENCE_CASES).map(([key, reference]) => [
    reference.label,
    ...measured.flatMap((placement) => latencyCells(placement.references[key], null)),
  ]);
  const tsshmemRows = entries(TSSHMEM_CASES).map(([key, wakeCase]) => [
    `tsshmem: ${wakeCase.label}`,
    ...measured.flatMap((placement) => latencyCells(placement.tsshmem[key], placement.references[wakeCase.reference] ?? null)),
  ]);
  const idle = figures.idleReader;
  return {
    title: `Wake latency: ping-pong of ${formatShapeArgument(FRAME_SHAPE)} float32 frames between two processes`,
    columns: [
      'mechanism',
      ...measured.flatMap(({ placement }) => {
        const where = PLACEMENT_TITLES[placement.key];
        return [`${where}: round trip, median`, 'p99', 'vs same-work C, median / p99'];
      }),
    ],
    rows: [...referenceRows, ...tsshmemRows],
    notes: [
      'A round trip is two hops; each hop is one write of the frame, the wake, and one safe read of it into a reused array.',
      `Placements: ${measured.map(({ placement }) => `${PLACEMENT_TITLES[placement.key]}, ${describePlacement(placement)}`).join('; ')}. Each tsshmem row is compared with the same-work C reference of its placement (protocol + futex, or protocol + spin for the spinning rows).`,
      'Spinning rows run only across CPUs: on one CPU a spinning side holds the CPU its partner needs, and the figure would be the scheduler\'s time slice.',
      "An event loop cannot sleep in futex(2): next() is woken by a datagram its loop awaits in epoll_wait. Node's libuv measures the loop's idle time, so each poll that would sleep is first made with a zero timeout, then with the nearest timer's; the datagram rows in C wait the same way. The bare datagram row, beside the bare futex row, is what that transport costs by itself; readNewSync() sleeps in futex(2) as the C references do.",
      ...measured.flatMap((placement) => sameWakeNote(placement)),
      `Idle reader awaiting next() with no writes: ${formatPercent(idle.coreShare)} of a core (process.cpuUsage over ${idle.seconds.toFixed(1)} s).`,
    ],
  };
}

/**
 * await next() beside C doing the same work with the same wake: what the
 * event loop's wake costs (protocol + datagram over protocol + futex), and
 * what is Node's and tsshmem's own (next() over protocol + datagram).
 */
function sameWakeNote({ placement, references, tsshmem }: PlacementFigures): string[] {
  const { protocolFutex, protocolSocket } = references;
  const next = tsshmem.next;
  if (next === undefined || protocolFutex === undefined || protocolSocket === undefined || isSkipped(protocolFutex) || isSkipped(protocolSocket)) return [];
  return [
    `${PLACEMENT_TITLES[placement.key]}: await next() is ${formatTimes(next.medianUs / protocolFutex.medianUs)} of protocol + futex = ${formatTimes(protocolSocket.medianUs / protocolFutex.medianUs)} for the event loop's wake (protocol + datagram in C) x ${formatTimes(next.medianUs / protocolSocket.medianUs)} for Node and tsshmem doing the same work with the same wake (medians).`,
  ];
}

/** Median, p99 and the ratios to the reference; dashes for a case not run in this placement. */
function latencyCells(latency: Latency | Skipped | undefined, reference: Latency | Skipped | null): string[] {
  if (latency === undefined) return ['-', '-', '-'];
  if (isSkipped(latency)) return [latency.skipped, '-', '-'];
  const ratio = reference === null || isSkipped(reference) ? '-' : `${formatTimes(latency.medianUs / reference.medianUs)} / ${formatTimes(latency.p99Us / reference.p99Us)}`;
  return [formatMicros(latency.medianUs), formatMicros(latency.p99Us), ratio];
}

const REFERENCE_NAMES: Readonly<Record<'protocolFutex' | 'protocolSpin', string>> = {
  protocolFutex: 'protocol + futex',
  protocolSpin: 'protocol + spin',
};

/** Per placement: await next() <= 1.5x and readNewSync() <= 1.25x of C with a futex; next({ spin }) <= 1.5x of C spinning. */
const WAKE_LIMITS: readonly (readonly [TsshmemKey, number])[] = [
  ['next', 1.5],
  ['readNewSync', 1.25],
  ['spin', 1.5],
];

function wakeTargets(figures: WakeFigures): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const { placement, references, tsshmem } of Object.values(figures.placements) as PlacementFigures[]) {
    for (const [key, maximum] of WAKE_LIMITS) {
      const wakeCase = TSSHMEM_CASES[key];
      const latency = tsshmem[key];
      const reference = references[wakeCase.reference];
      if (latency === undefined || reference === undefined || isSkipped(reference)) continue;
      const of = `${REFERENCE_NAMES[wakeCase.reference]} (p99 ${formatMicros(latency.p99Us)} vs ${formatMicros(reference.p99Us)}, ${formatTimes(latency.p99Us / reference.p99Us)})`;
      checks.push(timesAtMost(`wake, ${PLACEMENT_TITLES[placement.key]}, ${wakeCase.label}, median`, latency.medianUs / reference.medianUs, maximum, of));
    }
  }
  checks.push(coreShareBelow('idle waiting reader', figures.idleReader.coreShare, 0.01));
  for (const [key, silentCase] of entries(SILENT_CASES)) {
    const delay = figures.silentWrites[key];
    if (!isSkipped(delay)) checks.push(latencyAtMost(`pyshmem-style write to next(), writer ${silentCase.label}, p99`, delay.p99Us, SILENT_WRITE_LIMIT_US));
  }
  return checks;
}

/** Measures each case in turn. */
async function measureEach<K extends string, V, R>(cases: Readonly<Partial<Record<K, V>>>, measure: (value: V) => Promise<R>): Promise<Record<K, R>> {
  const results: [K, R][] = [];
  for (const [key, value] of entries(cases)) results.push([key, await measure(value)]);
  return Object.fromEntries(results) as Record<K, R>;
}

function entries<K extends string, V>(record: Readonly<Partial<Record<K, V>>>): [K, V][] {
  return Object.entries(record) as [K, V][];
}
