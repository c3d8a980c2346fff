/**
 * IO vs size: write + read round trips in one process, with read() (a new
 * array each time), read({ out }) (a reused array) and, in single-writer mode,
 * read({ out }); beside them, measured in turns with them, the memcpy
 * reference (the same bytes copied in and out) and the protocol reference
 * (one compatible write and one safe read, in C). A 1-element stream gives
 * the per-call overhead.
 */
import { isSkipped, type Skipped } from './c-references.js';
import { withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import { measureRate, type Rate, type Timing } from './measure.js';
import type { SectionOutcome, Table } from './report.js';
import { measureInTurns, type SlicedCase, type SlicedRate, SLICES } from './slices.js';
import { reported, shareAtLeast, type TargetCheck } from './targets.js';
import { describePayload, formatGBps, formatHz, formatMicros, formatPercent, formatPerEvent, formatTimes, payloadBytes } from './units.js';
import { formatShapeArgument } from '../cli/parse.js';

export interface RoundTrips extends SlicedRate {
  /** Bytes written plus bytes read, per second. */
  readonly gbPerSecond: number;
  readonly usPerRoundTrip: number;
  /** Minor page faults per round trip; null for the C references, which run in another process. */
  readonly pageFaultsPerRoundTrip: number | null;
}

export type Reference = (RoundTrips & { readonly method: string }) | Skipped;

export interface IoSizeFigures {
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly read: RoundTrips;
  readonly readOut: RoundTrips;
  readonly exclusiveReadOut: RoundTrips;
  readonly memcpy: Reference;
  readonly protocol: Reference;
}

export interface PerCallFigures {
  readonly shape: readonly number[];
  readonly readOut: RoundTrips;
  readonly exclusiveReadOut: RoundTrips;
  readonly protocol: Reference;
}

export interface IoFigures {
  readonly slicesPerCase: number;
  readonly sizes: readonly IoSizeFigures[];
  readonly perCall: PerCallFigures;
}

type Method = 'read' | 'readOut' | 'exclusiveReadOut';
type CaseKey = Method | 'memcpy' | 'protocol';

const METHOD_LABELS: Readonly<Record<Method, string>> = {
  read: 'read()',
  readOut: 'read({ out })',
  exclusiveReadOut: 'exclusiveWriter, read({ out })',
};
const ONE_ELEMENT = [1];

export async function runIo(context: BenchContext, sizes: readonly (readonly number[])[]): Promise<SectionOutcome> {
  const measured: IoSizeFigures[] = [];
  for (const shape of sizes) measured.push(await measureSize(context, shape));
  const perCall = await measurePerCall(context);
  return {
    tables: [sizeTable(measured), perCallTable(perCall)],
    targets: [...sizeTargets(measured), perCallTarget(perCall)],
    figures: { slicesPerCase: SLICES, sizes: measured, perCall } satisfies IoFigures,
  };
}

async function measureSize(context: BenchContext, shape: readonly number[]): Promise<IoSizeFigures> {
  const rates = await measureCases(context, shape, ['memcpy', 'protocol', 'read', 'readOut', 'exclusiveReadOut']);
  return {
    shape,
    bytes: payloadBytes(shape),
    read: tsshmemRate(rates, 'read'),
    readOut: tsshmemRate(rates, 'readOut'),
    exclusiveReadOut: tsshmemRate(rates, 'exclusiveReadOut'),
    memcpy: figureOf(rates, 'memcpy'),
    protocol: figureOf(rates, 'protocol'),
  };
}

async function measurePerCall(context: BenchContext): Promise<PerCallFigures> {
  const rates = await measureCases(context, ONE_ELEMENT, ['protocol', 'readOut', 'exclusiveReadOut']);
  return {
    shape: ONE_ELEMENT,
    readOut: tsshmemRate(rates, 'readOut'),
    exclusiveReadOut: tsshmemRate(rates, 'exclusiveReadOut'),
    protocol: figureOf(rates, 'protocol'),
  };
}

/** Measures the cases of one payload in turns; the tsshmem cases share one source and one out array. */
async function measureCases(context: BenchContext, shape: readonly number[], keys: readonly CaseKey[]): Promise<Map<CaseKey, Reference>> {
  const bytes = payloadBytes(shape);
  const source = new Float32Array(bytes / Float32Array.BYTES_PER_ELEMENT).fill(1);
  const out = new Float32Array(source.length);
  const references = await context.references();
  const caseOf = (key: CaseKey): SlicedCase<CaseKey> => {
    switch (key) {
      case 'memcpy':
        return references.skipReason === null
          ? { key, label: 'memcpy reference', measure: (timing) => cReference(context, 'memcpy', bytes, timing) }
          : { key, label: 'memcpy reference', measure: async (timing) => typedArraySetRate(bytes, timing) };
      case 'protocol':
        return { key, label: 'protocol reference', measure: (timing) => cReference(context, 'protocol', bytes, timing) };
      default:
        return { key, label: METHOD_LABELS[key], measure: (timing) => tsshmemSlice(context, shape, key, source, out, timing) };
    }
  };
  const title = shape === ONE_ELEMENT ? 'per-call overhead, 1 element' : formatShapeArgument(shape);
  const sliced = await measureInTurns(keys.map(caseOf), context.timing, (label, slice) =>
    context.progress.step(`io ${title}, slice ${slice}/${SLICES}: ${label}`),
  );
  const method = (key: CaseKey): string => (key === 'memcpy' && references.skipReason !== null ? 'TypedArray.set' : 'C');
  return new Map([...sliced].map(([key, rate]) => [key, isSkipped(rate) ? rate : { method: method(key), ...roundTrips(rate, bytes) }]));
}

function figureOf(rates: Map<CaseKey, Reference>, key: CaseKey): Reference {
  const rate = rates.get(key);
  if (rate === undefined) throw new Error(`io: ${key} was not measured`);
  return rate;
}

function tsshmemRate(rates: Map<CaseKey, Reference>, method: Method): RoundTrips {
  const rate = figureOf(rates, method);
  if (isSkipped(rate)) throw new Error(`io: ${METHOD_LABELS[method]} was skipped`);
  return rate;
}

function tsshmemSlice(
  context: BenchContext,
  shape: readonly number[],
  method: Method,
  source: Float32Array,
  out: Float32Array,
  timing: Timing,
): Promise<Rate> {
  const exclusiveWriter = method === 'exclusiveReadOut';
  return withStream(context.cleanup, `io-${formatShapeArgument(shape)}-${method}`, shape, { exclusiveWriter }, (stream) => {
    const roundTrip =
      method === 'read'
        ? () => {
            stream.write(source);
            stream.read();
          }
        : () => {
            stream.write(source);
            stream.read({ out });
          };
    return measureRate(roundTrip, timing);
  });
}

async function cReference(context: BenchContext, mode: 'memcpy' | 'protocol', bytes: number, timing: Timing): Promise<Rate | Skipped> {
  const args = [mode, bytes, timing.seconds, timing.warmupSeconds];
  const result = await (await context.references()).run<{ iterations: number; seconds: number }>('io_reference', args);
  if (isSkipped(result)) return result;
  return { ...result, hz: result.iterations / result.seconds };
}

/** The memcpy reference without a C compiler: the same copies with TypedArray.set. */
function typedArraySetRate(bytes: number, timing: Timing): Rate {
  const source = new Uint8Array(bytes).fill(1);
  const segment = new Uint8Array(bytes);
  const out = new Uint8Array(bytes);
  return measureRate(() => {
    segment.set(source);
    out.set(segment);
  }, timing);
}

function roundTrips(rate: SlicedRate, bytes: number): RoundTrips {
  return {
    ...rate,
    gbPerSecond: (2 * bytes * rate.hz) / 1e9,
    usPerRoundTrip: 1e6 / rate.hz,
    pageFaultsPerRoundTrip: rate.pageFaults === undefined ? null : rate.pageFaults / rate.iterations,
  };
}

function sizeTable(sizes: readonly IoSizeFigures[]): Table {
  const rows = sizes.flatMap((size) => {
    const payload = describePayload(size.shape);
    const ratio = (rate: RoundTrips, reference: Reference): string => (isSkipped(reference) ? '-' : formatPercent(rate.hz / reference.hz));
    const tsshmemRows = (Object.keys(METHOD_LABELS) as Method[]).map((method) => {
      const rate = size[method];
      const faults = rate.pageFaultsPerRoundTrip === null ? '-' : formatPerEvent(rate.pageFaultsPerRoundTrip);
      return [payload, METHOD_LABELS[method], formatHz(rate.hz), formatGBps(rate.gbPerSecond), ratio(rate, size.memcpy), ratio(rate, size.protocol), faults];
    });
    return [...tsshmemRows, referenceRow(payload, 'memcpy reference', size.memcpy), referenceRow(payload, 'protocol reference', size.protocol)];
  });
  return {
    title: 'IO: write + read round trip in one process',
    columns: ['payload', 'method', 'round trips/s', 'GB/s', 'vs memcpy', 'vs protocol', 'page faults per round trip'],
    rows,
    notes: [
      'GB/s counts the bytes written plus the bytes read. memcpy reference: the same bytes copied into a shared-memory segment and out again (TypedArray.set into an array without a C compiler).',
      'Protocol reference: C doing exactly one compatible write (flock pair, sequence updates, copy in) and one safe read (copy out) per round trip.',
      `The cases of one payload run in turns, in ${SLICES} slices each; a rate is the median of its slices.`,
      'Page faults per round trip: minor faults of the measuring process over the measured time of all slices; each is a fresh page the kernel maps in, as when freed memory was returned to it.',
    ],
  };
}

function referenceRow(payload: string, name: string, reference: Reference): string[] {
  if (isSkipped(reference)) return [payload, name, reference.skipped, '-', '-', '-', '-'];
  return [payload, `${name} (${reference.method})`, formatHz(reference.hz), formatGBps(reference.gbPerSecond), '-', '-', '-'];
}

function perCallTable(perCall: PerCallFigures): Table {
  const overhead = (rate: RoundTrips): string => {
    if (isSkipped(perCall.protocol)) return '-';
    const extra = rate.usPerRoundTrip - perCall.protocol.usPerRoundTrip;
    return `${extra >= 0 ? '+' : ''}${formatMicros(extra)} (${formatTimes(rate.usPerRoundTrip / perCall.protocol.usPerRoundTrip)})`;
  };
  const tsshmemRow = (method: 'readOut' | 'exclusiveReadOut'): string[] => {
    const rate = perCall[method];
    return [METHOD_LABELS[method], formatMicros(rate.usPerRoundTrip), formatHz(rate.hz), overhead(rate)];
  };
  const protocolRow = isSkipped(perCall.protocol)
    ? ['protocol reference', perCall.protocol.skipped, '-', '-']
    : [`protocol reference (${perCall.protocol.method})`, formatMicros(perCall.protocol.usPerRoundTrip), formatHz(perCall.protocol.hz), '-'];
  return {
    title: 'Per-call overhead: write + read of a 1-element stream',
    columns: ['method', 'per write + read', 'round trips/s', 'over the protocol reference'],
    rows: [tsshmemRow('readOut'), tsshmemRow('exclusiveReadOut'), protocolRow],
    notes: ['The protocol reference takes the flock pair on every write, as the default mode does; single-writer mode holds the lock and makes no system call.'],
  };
}

function sizeTargets(sizes: readonly IoSizeFigures[]): TargetCheck[] {
  const bySize = new Map(sizes.map((size) => [formatShapeArgument(size.shape), size]));
  const checks: TargetCheck[] = [];
  const share = (key: string, method: Method, reference: 'memcpy' | 'protocol', minimum: number): void => {
    const size = bySize.get(key);
    const base = size?.[reference];
    if (size === undefined || base === undefined || isSkipped(base)) return;
    const mode = method === 'exclusiveReadOut' ? 'single-writer mode' : 'default mode';
    const call = method === 'read' ? 'read()' : 'read({ out })';
    checks.push(shareAtLeast(`${key}, ${mode}, ${call}`, size[method].hz / base.hz, minimum, `${reference} reference`));
  };
  share('128x128', 'readOut', 'protocol', 0.85);
  share('128x128', 'exclusiveReadOut', 'memcpy', 0.5);
  const size128 = bySize.get('128x128');
  if (size128 !== undefined) checks.push(shareAtLeast('128x128, read() vs read({ out })', size128.read.hz / size128.readOut.hz, 0.6, 'read({ out })'));
  share('1000x1000', 'read', 'memcpy', 0.85);
  share('1000x1000', 'readOut', 'memcpy', 0.85);
  share('10000x10000', 'readOut', 'memcpy', 0.85);
  return checks;
}

function perCallTarget(perCall: PerCallFigures): TargetCheck {
  const tsshmem = formatMicros(perCall.readOut.usPerRoundTrip);
  const measured = isSkipped(perCall.protocol)
    ? `${tsshmem} (protocol reference ${perCall.protocol.skipped})`
    : `${tsshmem} vs ${formatMicros(perCall.protocol.usPerRoundTrip)} protocol reference`;
  return reported('1 element, per-call write + read({ out })', measured);
}
