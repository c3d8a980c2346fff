/**
 * Ring streams: whether every frame arrives (a paced writer and a reader in
 * next(), ring and plain stream side by side; a flooding writer with
 * overflow 'block'), the hand-over with loans and samples at sizes from 64 B
 * to 381 MiB beside a C reference doing the same hand-over in the same CPU
 * placement, and what a copying ring (write + next()) costs beside a plain
 * stream, with and without the pyshmem-visible copy.
 */
import { isSkipped, type Skipped } from './c-references.js';
import { type Launch, startPeer } from './children.js';
import { type BenchStreamOptions, withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import { type Latency, measureRate, type Rate } from './measure.js';
import type { RingFlowArguments, RingFlowReaderReport, RingFlowWriterReport } from './peers/ring-flow-protocol.js';
import type { RingHandoverArguments } from './peers/ring-handover.js';
import { describePlacement, pingPongPlacements, type Placement } from './placement.js';
import type { SectionOutcome, Table } from './report.js';
import { reported, timesAtMost, type TargetCheck } from './targets.js';
import { formatHz, formatMicros, formatPerSecond, formatTimes } from './units.js';

const FLOW_SHAPE = [128, 128];
const PACED_HZ = 2000;
const PACED_SECONDS = 10;
const QUICK_PACED_SECONDS = 2;
const HISTORY = 64;
const SPIN_MS = 0.2;
/** Hand-over sizes: 64 B, 64 KiB, 4 MiB, 381 MiB of float32. */
const HANDOVER_SHAPES: readonly (readonly number[])[] = [[16], [128, 128], [1024, 1024], [10000, 10000]];
const QUICK_HANDOVER_SHAPES: readonly (readonly number[])[] = [[16], [1024, 1024]];
const COPY_SHAPES: readonly (readonly number[])[] = [[128, 128], [1000, 1000]];
const PYSHMEM_381MIB_HZ = 6.7;
const COPY_ROUNDS = 3;
const COPY_HISTORY = 4;

type WaitKey = 'sleeping' | 'spinning';
const WAITS: Readonly<Record<WaitKey, { readonly spinMs: number; readonly cMode: string; readonly label: string }>> = {
  sleeping: { spinMs: 0, cMode: 'futex', label: 'await nextSample()' },
  spinning: { spinMs: SPIN_MS, cMode: 'spin', label: `await nextSample({ spin: ${SPIN_MS} })` },
};

interface Flow {
  readonly written: number;
  readonly seconds: number;
  readonly delivered: number;
  readonly missed: number;
}

interface Handover {
  readonly shape: readonly number[];
  readonly tsshmem: Readonly<Record<WaitKey, Latency>>;
  readonly reference: Readonly<Record<WaitKey, Latency | Skipped>>;
}

interface CopyCase {
  readonly shape: readonly number[];
  readonly plain: Rate;
  /** Rings of COPY_HISTORY slots: the protocol's own cost. */
  readonly ring: Rate;
  readonly ringWithPyshmemFrame: Rate;
  /** A ring of HISTORY slots: each write lands in a slot last touched HISTORY frames ago (out of the caches). */
  readonly deepRing: Rate;
  /**
   * bench/c/ring_copy_reference.c, same run: memcpy in and out through one
   * buffer (the plain stream's pattern) and rotating over COPY_HISTORY and
   * HISTORY slot buffers: what the rings' footprint alone costs.
   */
  readonly reference: Readonly<Record<CopyReferenceKey, Rate | Skipped>>;
}

type CopyReferenceKey = 'oneBuffer' | 'ring' | 'deepRing';
const COPY_REFERENCE_SLOTS: Readonly<Record<CopyReferenceKey, number>> = { oneBuffer: 1, ring: COPY_HISTORY, deepRing: HISTORY };

export interface RingFigures {
  readonly paced: { readonly hz: number; readonly history: number; readonly ring: Flow; readonly plain: Flow };
  readonly flood: { readonly history: number; readonly ring: Flow; readonly plain: Flow };
  readonly placement: Placement;
  readonly handover: readonly Handover[];
  readonly copying: readonly CopyCase[];
}

export async function runRing(context: BenchContext): Promise<SectionOutcome> {
  const pacedSeconds = context.quick ? QUICK_PACED_SECONDS : PACED_SECONDS;
  await context.progress.step(`ring: a writer paced at ${PACED_HZ} Hz for ${pacedSeconds} s, ring of ${HISTORY}`);
  const pacedRing = await measureFlow(context, { history: HISTORY }, PACED_HZ, pacedSeconds);
  await context.progress.step(`ring: the same writer on a plain stream`);
  const pacedPlain = await measureFlow(context, {}, PACED_HZ, pacedSeconds);
  await context.progress.step(`ring: a flooding writer, overflow 'block'`);
  const floodRing = await measureFlow(context, { history: HISTORY, overflow: 'block' }, 0, context.timing.seconds);
  await context.progress.step(`ring: a flooding writer on a plain stream`);
  const floodPlain = await measureFlow(context, {}, 0, context.timing.seconds);
  const references = await context.references();
  // Across CPUs where two can be pinned, as the hand-over targets are set: the
  // last placement the wake section measures.
  const placement = pingPongPlacements(references.skipReason === null).at(-1)!;
  const handover: Handover[] = [];
  for (const shape of context.quick ? QUICK_HANDOVER_SHAPES : HANDOVER_SHAPES) {
    const tsshmem = {} as Record<WaitKey, Latency>;
    const reference = {} as Record<WaitKey, Latency | Skipped>;
    for (const [key, wait] of entries(WAITS)) {
      await context.progress.step(`ring: hand-over of ${bytesOf(shape)} bytes, ${wait.label}`);
      tsshmem[key] = await measureHandover(context, shape, wait.spinMs, placement);
      await context.progress.step(`ring: hand-over of ${bytesOf(shape)} bytes, C reference (${wait.cMode})`);
      reference[key] = await references.run<Latency>('ring_handover_reference', [
        wait.cMode,
        bytesOf(shape),
        context.timing.seconds,
        context.timing.warmupSeconds,
        placement.initiatorCpu,
        placement.echoCpu,
      ]);
    }
    handover.push({ shape, tsshmem, reference });
  }
  const copying: CopyCase[] = [];
  for (const shape of COPY_SHAPES) {
    await context.progress.step(`ring: write + next() of ${shape.join('x')}, ring and plain stream`);
    copying.push(await measureCopying(context, shape));
  }
  const figures: RingFigures = {
    paced: { hz: PACED_HZ, history: HISTORY, ring: pacedRing, plain: pacedPlain },
    flood: { history: HISTORY, ring: floodRing, plain: floodPlain },
    placement,
    handover,
    copying,
  };
  return { tables: [flowTable(figures), handoverTable(figures), copyTable(figures)], targets: ringTargets(figures), figures };
}

async function measureFlow(context: BenchContext, options: BenchStreamOptions, hz: number, seconds: number): Promise<Flow> {
  return withStream(context.cleanup, 'ring-flow', FLOW_SHAPE, options, async (stream) => {
    const args = { name: stream.name, hz, seconds };
    const reader = startPeer<RingFlowReaderReport>(context.cleanup, 'ring-flow', { ...args, role: 'reader' } satisfies RingFlowArguments);
    await reader.ready;
    const writer = startPeer<RingFlowWriterReport>(context.cleanup, 'ring-flow', { ...args, role: 'writer' } satisfies RingFlowArguments);
    const [written, read] = await Promise.all([writer.result, reader.result]);
    return { ...written, ...read };
  });
}

async function measureHandover(context: BenchContext, shape: readonly number[], spinMs: number, placement: Placement): Promise<Latency> {
  const { cleanup, timing } = context;
  const references = await context.references();
  const onCpu = (cpu: number) => (launch: Launch) => (cpu < 0 ? launch : references.onCpu(cpu, launch));
  // Two slots, no pyshmem-visible copy: a publish then moves no frame bytes.
  const options: BenchStreamOptions = { history: 2, pyshmemFrame: false };
  return withStream(cleanup, 'ring-ping', shape, options, (ping) =>
    withStream(cleanup, 'ring-pong', shape, options, async (pong) => {
      const args = { spinMs, ping: ping.name, pong: pong.name, ...timing };
      const echo = startPeer<object>(cleanup, 'ring-handover', { ...args, role: 'echo' } satisfies RingHandoverArguments, onCpu(placement.echoCpu));
      await echo.ready;
      const initiator = startPeer<Latency>(cleanup, 'ring-handover', { ...args, role: 'initiator' } satisfies RingHandoverArguments, onCpu(placement.initiatorCpu));
      const [latency] = await Promise.all([initiator.result, echo.result]);
      return latency;
    }),
  );
}

/**
 * write() then readNewSync({ out }) in one process: the plain stream, the
 * ring without and with the pyshmem-visible copy. Each ring is first cycled
 * once through all its slots (their first touch costs page faults, once),
 * and the cases, and the C footprint references after them, take turns for
 * COPY_ROUNDS rounds, keeping each one's best, so that a noisy neighbour
 * (sharing the CPU caches) does not decide the ratio.
 */
async function measureCopying(context: BenchContext, shape: readonly number[]): Promise<CopyCase> {
  const { cleanup, timing } = context;
  const references = await context.references();
  const cases = {
    plain: {},
    ring: { history: COPY_HISTORY, pyshmemFrame: false },
    ringWithPyshmemFrame: { history: COPY_HISTORY },
    deepRing: { history: HISTORY, pyshmemFrame: false },
  } satisfies Record<keyof Omit<CopyCase, 'shape' | 'reference'>, BenchStreamOptions>;
  return withStream(cleanup, 'ring-copy-plain', shape, cases.plain, (plain) =>
    withStream(cleanup, 'ring-copy-ring', shape, cases.ring, (ring) =>
      withStream(cleanup, 'ring-copy-ring-pyshmem', shape, cases.ringWithPyshmemFrame, (ringWithPyshmemFrame) =>
        withStream(cleanup, 'ring-copy-deep-ring', shape, cases.deepRing, async (deepRing) => {
          const streams = { plain, ring, ringWithPyshmemFrame, deepRing };
          const frame = new Float32Array(plain.size / Float32Array.BYTES_PER_ELEMENT);
          const out = new Float32Array(frame.length);
          const best: Partial<Record<keyof typeof streams, Rate>> = {};
          const reference: Partial<Record<CopyReferenceKey, Rate | Skipped>> = {};
          for (let round = 0; round < COPY_ROUNDS; round++) {
            for (const [key, stream] of entries(streams)) {
              const iteration = (): void => {
                stream.write(frame);
                stream.readNewSync({ out });
              };
              if (round === 0) for (let i = 0; i <= HISTORY; i++) iteration();
              const rate = measureRate(iteration, timing);
              if ((best[key]?.hz ?? 0) < rate.hz) best[key] = rate;
            }
            for (const [key, slots] of entries(COPY_REFERENCE_SLOTS)) {
              const run = await references.run<{ iterations: number; seconds: number }>('ring_copy_reference', [slots, plain.size, timing.seconds, timing.warmupSeconds]);
              const rate = isSkipped(run) ? run : { ...run, hz: run.iterations / run.seconds };
              const kept = reference[key];
              if (kept === undefined || isSkipped(kept) || (!isSkipped(rate) && kept.hz < rate.hz)) reference[key] = rate;
            }
          }
          return {
            shape,
            plain: best.plain!,
            ring: best.ring!,
            ringWithPyshmemFrame: best.ringWithPyshmemFrame!,
            deepRing: best.deepRing!,
            reference: { oneBuffer: reference.oneBuffer!, ring: reference.ring!, deepRing: reference.deepRing! },
          };
        }),
      ),
    ),
  );
}

/** How much slower the C memcpy gets rotating over key's slot buffers than through one buffer: the footprint's own cost. */
function footprint(copy: CopyCase, key: Exclude<CopyReferenceKey, 'oneBuffer'>): number | Skipped {
  const one = copy.reference.oneBuffer;
  const slots = copy.reference[key];
  if (isSkipped(one)) return one;
  if (isSkipped(slots)) return slots;
  return one.hz / slots.hz;
}

function formatFootprint(ratio: number | Skipped): string {
  return typeof ratio === 'number' ? formatTimes(ratio) : ratio.skipped;
}

function flowTable(figures: RingFigures): Table {
  const row = (label: string, flow: Flow): string[] => [
    label,
    formatPerSecond(flow.written),
    formatPerSecond(flow.delivered),
    formatPerSecond(flow.missed),
    formatHz(flow.delivered / flow.seconds),
  ];
  return {
    title: `Every frame delivered? A writer and a reader in next(), ${FLOW_SHAPE.join('x')} float32, two processes`,
    columns: ['case', 'written', 'delivered', 'missed', 'delivered rate'],
    rows: [
      row(`paced at ${figures.paced.hz} Hz, ring of ${figures.paced.history} (overwrite)`, figures.paced.ring),
      row(`paced at ${figures.paced.hz} Hz, plain stream`, figures.paced.plain),
      row(`flooding, ring of ${figures.flood.history}, overflow 'block'`, figures.flood.ring),
      row('flooding, plain stream', figures.flood.plain),
    ],
    notes: ['missed: writes the reader did not get, as its totalMissedWrites counts them.'],
  };
}

function handoverTable(figures: RingFigures): Table {
  const rows = figures.handover.flatMap((handover) =>
    entries(WAITS).map(([key, wait]) => {
      const latency = handover.tsshmem[key];
      const reference = handover.reference[key];
      return [
        `${bytesLabel(bytesOf(handover.shape))}, ${wait.label}`,
        formatMicros(latency.medianUs),
        formatMicros(latency.p99Us),
        formatHz(1e6 / latency.medianUs),
        isSkipped(reference) ? reference.skipped : formatMicros(reference.medianUs),
        isSkipped(reference) ? '-' : formatTimes(latency.medianUs / reference.medianUs),
      ];
    }),
  );
  return {
    title: 'Hand-over with loans and samples: two processes ping-pong one element of a ring frame',
    columns: ['frame, wait', 'round trip, median', 'p99', 'round trips per second', 'C reference, median', 'vs C'],
    rows,
    notes: [
      'Per hop: loan() (takes the lock), write one element, publish(); the other side nextSample(), reads one element, release(). Rings of 2 slots, pyshmemFrame: false.',
      `The C reference (bench/c/ring_handover_reference.c) does the same hand-over: the flock pair, the slot and hold bookkeeping, the wake. Placement: ${describePlacement(figures.placement)}.`,
      `pyshmem moves a 381 MiB frame at ${PYSHMEM_381MIB_HZ} Hz (write + read, baseline).`,
    ],
  };
}

function copyTable(figures: RingFigures): Table {
  const rows = figures.copying.flatMap((copy) => [
    [`${copy.shape.join('x')}, plain stream`, formatHz(copy.plain.hz), '-', '-'],
    [`${copy.shape.join('x')}, ring of ${COPY_HISTORY}, pyshmemFrame: false`, formatHz(copy.ring.hz), formatTimes(copy.plain.hz / copy.ring.hz), formatFootprint(footprint(copy, 'ring'))],
    [`${copy.shape.join('x')}, ring of ${COPY_HISTORY} with the pyshmem-visible copy`, formatHz(copy.ringWithPyshmemFrame.hz), formatTimes(copy.plain.hz / copy.ringWithPyshmemFrame.hz), formatFootprint(footprint(copy, 'ring'))],
    [`${copy.shape.join('x')}, ring of ${HISTORY}, pyshmemFrame: false`, formatHz(copy.deepRing.hz), formatTimes(copy.plain.hz / copy.deepRing.hz), formatFootprint(footprint(copy, 'deepRing'))],
  ]);
  return {
    title: `Copying: write() then readNewSync({ out }) in one process, best of ${COPY_ROUNDS} alternating rounds`,
    columns: ['case', 'frames per second', 'time per frame vs plain', 'C memcpy over as many slots vs one buffer'],
    rows,
    notes: [
      'Overwrite mode. The pyshmem-visible copy is one more copy of the frame per publish, into the pyshmem payload.',
      `A ring's writes rotate over its slots, so a ring of N touches N frames' worth of memory where the plain stream rewrites one payload; once that exceeds the CPU caches, every copy costs more, whatever the protocol. The last column is that cost alone: bench/c/ring_copy_reference.c, same run, memcpy in and out through the next of N shared-memory slot buffers vs through one buffer, best of ${COPY_ROUNDS} rounds taken in turn with the rows.`,
    ],
  };
}

function ringTargets(figures: RingFigures): TargetCheck[] {
  const checks: TargetCheck[] = [
    reported(`missed frames, writer paced at ${figures.paced.hz} Hz, ring of ${figures.paced.history} (goal 0)`, `${figures.paced.ring.missed} (plain stream: ${figures.paced.plain.missed})`),
    reported(
      "flooding writer, overflow 'block': delivered == written, 0 missed",
      `${figures.flood.ring.delivered} of ${figures.flood.ring.written}, ${figures.flood.ring.missed} missed, ${formatHz(figures.flood.ring.delivered / figures.flood.ring.seconds)} (plain: ${formatHz(figures.flood.plain.delivered / figures.flood.plain.seconds)} delivered)`,
    ),
  ];
  const smallest = figures.handover[0];
  const largest = figures.handover.at(-1);
  for (const key of Object.keys(WAITS) as WaitKey[]) {
    if (smallest !== undefined && largest !== undefined && largest !== smallest) {
      checks.push(
        timesAtMost(`hand-over, ${bytesLabel(bytesOf(largest.shape))} vs ${bytesLabel(bytesOf(smallest.shape))}, ${key}`, largest.tsshmem[key].medianUs / smallest.tsshmem[key].medianUs, 1.5, `${bytesLabel(bytesOf(smallest.shape))}`),
      );
    }
    for (const handover of figures.handover) {
      const reference = handover.reference[key];
      if (!isSkipped(reference)) {
        checks.push(timesAtMost(`hand-over, ${bytesLabel(bytesOf(handover.shape))}, ${key}`, handover.tsshmem[key].medianUs / reference.medianUs, 1.5, 'C reference'));
      }
    }
  }
  for (const copy of figures.copying) {
    checks.push(timesAtMost(`copying ring of ${COPY_HISTORY} ${copy.shape.join('x')}, pyshmemFrame: false, per frame`, copy.plain.hz / copy.ring.hz, 1.1, 'plain stream'));
    checks.push(
      reported(
        `the cache footprint alone of ${COPY_HISTORY} slots of ${copy.shape.join('x')} (C memcpy over ${COPY_HISTORY} buffers vs one, same run)`,
        `${formatFootprint(footprint(copy, 'ring'))} one buffer`,
      ),
    );
    checks.push(reported(`copying ring ${copy.shape.join('x')} with the pyshmem-visible copy, per frame`, `${formatTimes(copy.plain.hz / copy.ringWithPyshmemFrame.hz)} plain stream`));
  }
  return checks;
}

function bytesOf(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, Float32Array.BYTES_PER_ELEMENT);
}

function bytesLabel(bytes: number): string {
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 10) return `${Math.round(bytes / 2 ** 10)} KiB`;
  return `${bytes} B`;
}

function entries<K extends string, V>(record: Readonly<Record<K, V>>): [K, V][] {
  return Object.entries(record) as [K, V][];
}
