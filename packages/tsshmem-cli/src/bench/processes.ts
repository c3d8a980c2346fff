/**
 * Across processes: one writer process writes frames back to back, one
 * reader process awaits next(); frames per second written, delivered to the
 * reader, and skipped (overwritten before the reader got to them).
 */
import { startPeer } from './children.js';
import { withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import type { FramePeerArguments, FrameReaderReport, FrameWriterReport } from './peers/frame-protocol.js';
import type { SectionOutcome, Table } from './report.js';
import { describePayload, formatPercent, formatPerSecond, payloadBytes } from './units.js';
import { formatShapeArgument } from '../cli/parse.js';

const SHAPES: readonly (readonly number[])[] = [
  [128, 128],
  [1000, 1000],
];

export interface FrameFlow {
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly seconds: number;
  readonly written: number;
  readonly delivered: number;
  readonly skipped: number;
  readonly writtenPerSecond: number;
  readonly deliveredPerSecond: number;
  readonly skippedPerSecond: number;
}

export async function runProcesses(context: BenchContext): Promise<SectionOutcome> {
  const flows: FrameFlow[] = [];
  for (const shape of SHAPES) {
    await context.progress.step(`processes ${formatShapeArgument(shape)}: one writer process, one reader process`);
    flows.push(await measureFlow(context, shape));
  }
  return { tables: [flowTable(flows)], targets: [], figures: { cases: flows } };
}

function measureFlow(context: BenchContext, shape: readonly number[]): Promise<FrameFlow> {
  const { cleanup, timing } = context;
  return withStream(cleanup, `frames-${formatShapeArgument(shape)}`, shape, {}, async (stream) => {
    const args: FramePeerArguments = { name: stream.name, ...timing };
    const reader = startPeer<FrameReaderReport>(cleanup, 'frame-reader', args);
    await reader.ready;
    const writer = startPeer<FrameWriterReport>(cleanup, 'frame-writer', args);
    const [written, read] = await Promise.all([writer.result, reader.result]);
    const skipped = written.frames - read.frames;
    return {
      shape,
      bytes: payloadBytes(shape),
      seconds: written.seconds,
      written: written.frames,
      delivered: read.frames,
      skipped,
      writtenPerSecond: written.frames / written.seconds,
      deliveredPerSecond: read.frames / written.seconds,
      skippedPerSecond: skipped / written.seconds,
    };
  });
}

function flowTable(flows: readonly FrameFlow[]): Table {
  return {
    title: 'Across processes: one writer, one reader awaiting next()',
    columns: ['payload', 'written/s', 'delivered/s', 'skipped/s', 'delivered'],
    rows: flows.map((flow) => [
      describePayload(flow.shape),
      formatPerSecond(flow.writtenPerSecond),
      formatPerSecond(flow.deliveredPerSecond),
      formatPerSecond(flow.skippedPerSecond),
      formatPercent(flow.delivered / flow.written),
    ]),
    notes: ['The writer writes as fast as it can; a frame overwritten before the reader copies it is skipped (a reader always gets the newest frame).'],
  };
}
