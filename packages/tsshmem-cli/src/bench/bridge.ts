/**
 * The NATS bridge (tsshmem-nats) beside a same-run reference: the same
 * payloads sent through the same NATS client and server with no shared
 * memory (a plain publisher and subscriber with the same chunking, headers
 * and flush window). Throughput: frames delivered per second while the
 * source writes as fast as it can; latency: one frame at a time, from the
 * write (or the reference's publish) to its arrival in the destination.
 * Needs nats-server on PATH; the section is skipped without it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { type SharedMemory } from 'tsshmem';
import { Publisher, Subscriber } from 'tsshmem-nats';

import type { BenchContext } from './context.js';
import { type Latency, summarizeLatency } from './measure.js';
import type { SectionOutcome, Table } from './report.js';
import { shareAtLeast, timesAtMost, type TargetCheck } from './targets.js';
import { describePayload, formatMicros, formatPercent, formatPerSecond, formatTimes, payloadBytes } from './units.js';

const SHAPES: readonly (readonly number[])[] = [
  [128, 128],
  [1024, 1024],
];
const LATENCY_SAMPLES = 200;
const QUICK_LATENCY_SAMPLES = 40;
const IN_FLIGHT = 2;
const HEADER_ROOM = 4096;
const THROUGHPUT_SHARE_GOAL = 0.8;
const LATENCY_TIMES_GOAL = 1.2;

interface BridgeCase {
  readonly shape: readonly number[];
  readonly bridgeHz: number;
  readonly referenceHz: number;
  readonly bridgeLatency: Latency;
  readonly referenceLatency: Latency;
}

export async function runBridge(context: BenchContext): Promise<SectionOutcome> {
  if (spawnSync('nats-server', ['--version']).status !== 0) {
    return { tables: [skippedTable('nats-server is not on PATH (Debian: apt-get install nats-server)')], targets: [], figures: { skipped: 'no nats-server' } };
  }
  const server = await startServer(context);
  try {
    const cases: BridgeCase[] = [];
    for (const shape of SHAPES) cases.push(await measureCase(context, server.url, shape));
    return { tables: [caseTable(cases)], targets: cases.flatMap(targetsOf), figures: { cases } };
  } finally {
    server.process.kill('SIGKILL');
  }
}

async function measureCase(context: BenchContext, url: string, shape: readonly number[]): Promise<BridgeCase> {
  const label = describePayload(shape);
  await context.progress.step(`bridge ${label}: reference throughput`);
  const referenceHz = await referenceThroughput(url, payloadBytes(shape), context.timing.seconds);
  await context.progress.step(`bridge ${label}: reference latency`);
  const samples = context.quick ? QUICK_LATENCY_SAMPLES : LATENCY_SAMPLES;
  const referenceLatency = await referenceRoundTrips(url, payloadBytes(shape), samples);
  const source = context.cleanup.createStream('bridge-source', shape);
  const destination = context.cleanup.createStream('bridge-copy', shape);
  try {
    await context.progress.step(`bridge ${label}: bridge throughput`);
    const publisher = await Publisher.start({ server: url, source, subject: `tsshmem.bench.${process.pid}.${shape.join('x')}` });
    const subscriber = await Subscriber.start({ server: url, stream: destination.name, subject: publisher.subject }).catch(async (error: unknown) => {
      await publisher.close();
      throw error;
    });
    try {
      const bridgeHz = await bridgeThroughput(source, subscriber, context.timing.seconds);
      await context.progress.step(`bridge ${label}: bridge latency`);
      const bridgeLatency = await bridgeRoundTrips(source, destination, samples);
      return { shape, bridgeHz, referenceHz, bridgeLatency, referenceLatency };
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  } finally {
    context.cleanup.removeStream(source);
    context.cleanup.removeStream(destination);
  }
}

/** The source written back to back, yielding to the event loop between writes; frames written into the destination per second. */
async function bridgeThroughput(source: SharedMemory<'float32'>, subscriber: Subscriber, seconds: number): Promise<number> {
  const frame = new Float32Array(source.size / 4).fill(1);
  const before = subscriber.status().frames;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    source.write(frame);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return (subscriber.status().frames - before) / ((performance.now() - start) / 1000);
}

/** One frame at a time: the write, then the destination's next(). */
async function bridgeRoundTrips(source: SharedMemory<'float32'>, destination: SharedMemory<'float32'>, samples: number): Promise<Latency> {
  const frame = new Float32Array(source.size / 4);
  const out = new Float32Array(source.size / 4);
  const times = new Float64Array(samples);
  destination.read({ out });
  for (let sample = 0; sample < samples; sample++) {
    frame.fill(sample);
    const start = performance.now();
    source.write(frame);
    await destination.next({ out, timeout: 10000 });
    times[sample] = (performance.now() - start) * 1000;
  }
  return summarizeLatency(times);
}

interface ReferenceLink {
  readonly publisher: NatsConnection;
  readonly subscriber: NatsConnection;
  readonly subject: string;
  /** Frames whose every chunk arrived. */
  received: number;
  onFrame: (() => void) | null;
}

async function openReference(url: string, bytes: number): Promise<ReferenceLink> {
  const publisher = await connect({ servers: url });
  const subscriber = await connect({ servers: url });
  const chunks = Math.ceil(bytes / chunkBytes(publisher));
  const link: ReferenceLink = { publisher, subscriber, subject: `tsshmem.bench-reference.${process.pid}`, received: 0, onFrame: null };
  subscriber.subscribe(`${link.subject}.>`, {
    callback: (_error, message) => {
      if (message.subject.endsWith(`.${chunks - 1}`)) {
        link.received += 1;
        link.onFrame?.();
      }
    },
  });
  await subscriber.flush();
  return link;
}

function sendReference(link: ReferenceLink, payload: Uint8Array, sequence: number): void {
  const size = chunkBytes(link.publisher);
  for (let index = 0, offset = 0; offset < payload.length; index++, offset += size) {
    const header = headers();
    header.set('Tsshmem-Frame', `reference/${sequence}`);
    header.set('Tsshmem-Chunk', `${index}/${Math.ceil(payload.length / size)}`);
    link.publisher.publish(`${link.subject}.v.${index}`, payload.subarray(offset, offset + size), { headers: header });
  }
}

async function referenceThroughput(url: string, bytes: number, seconds: number): Promise<number> {
  const link = await openReference(url, bytes);
  try {
    const payload = new Uint8Array(bytes).fill(1);
    const flushes: Promise<void>[] = [];
    const start = performance.now();
    for (let sequence = 1; performance.now() - start < seconds * 1000; sequence++) {
      sendReference(link, payload, sequence);
      flushes.push(link.publisher.flush());
      if (flushes.length >= IN_FLIGHT) await flushes.shift();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return link.received / ((performance.now() - start) / 1000);
  } finally {
    await link.publisher.close();
    await link.subscriber.close();
  }
}

async function referenceRoundTrips(url: string, bytes: number, samples: number): Promise<Latency> {
  const link = await openReference(url, bytes);
  try {
    const payload = new Uint8Array(bytes);
    const times = new Float64Array(samples);
    for (let sample = 0; sample < samples; sample++) {
      const arrived = new Promise<void>((resolve) => (link.onFrame = resolve));
      const start = performance.now();
      sendReference(link, payload, sample);
      void link.publisher.flush(); // as the bridge's publisher does after each frame
      await arrived;
      times[sample] = (performance.now() - start) * 1000;
    }
    return summarizeLatency(times);
  } finally {
    await link.publisher.close();
    await link.subscriber.close();
  }
}

function chunkBytes(connection: NatsConnection): number {
  return (connection.info?.max_payload ?? 1 << 20) - HEADER_ROOM;
}

async function startServer(context: BenchContext): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'tsshmem-bench-nats-'));
  context.cleanup.trackDirectory(store);
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] });
  context.cleanup.trackChild(child);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      if (log.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
  });
  return { url: `nats://127.0.0.1:${port}`, process: child };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

function caseTable(cases: readonly BridgeCase[]): Table {
  return {
    title: 'Across hosts: the NATS bridge beside the same payloads through the same client and server',
    columns: ['payload', 'bridge frames/s', 'reference frames/s', 'share', 'bridge median', 'reference median', 'ratio', 'bridge p99', 'reference p99'],
    rows: cases.map((entry) => [
      describePayload(entry.shape),
      formatPerSecond(entry.bridgeHz),
      formatPerSecond(entry.referenceHz),
      formatPercent(entry.bridgeHz / entry.referenceHz),
      formatMicros(entry.bridgeLatency.medianUs),
      formatMicros(entry.referenceLatency.medianUs),
      formatTimes(entry.bridgeLatency.medianUs / entry.referenceLatency.medianUs),
      formatMicros(entry.bridgeLatency.p99Us),
      formatMicros(entry.referenceLatency.p99Us),
    ]),
    notes: [
      'One process, a local nats-server on loopback. Bridge: source stream -> tsshmem-nats publisher -> server -> subscriber -> destination stream.',
      'Reference: the same chunks and headers published and received with the same client; latency from the write (or publish) to the arrival of the whole frame.',
    ],
  };
}

function targetsOf(entry: BridgeCase): TargetCheck[] {
  const label = describePayload(entry.shape);
  return [
    shareAtLeast(`bridge throughput, ${label}`, entry.bridgeHz / entry.referenceHz, THROUGHPUT_SHARE_GOAL, 'the NATS reference'),
    timesAtMost(`bridge median latency, ${label}`, entry.bridgeLatency.medianUs / entry.referenceLatency.medianUs, LATENCY_TIMES_GOAL, 'the NATS reference'),
  ];
}

function skippedTable(reason: string): Table {
  return { title: 'Across hosts: the NATS bridge', columns: ['status'], rows: [[`skipped: ${reason}`]] };
}
