/**
 * The NATS bridge (tsshmem-nats) beside a same-run reference: the same
 * payloads sent through the same NATS client and server with no shared
 * memory (a plain publisher and subscriber with the same chunking, headers
 * and flush window). Throughput: frames delivered per second while the
 * source always has a new frame; latency: one frame at a time, from the
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
import { type Latency, summarizeLatency, type Timing } from './measure.js';
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
const DRAIN_LIMIT_MS = 5000;
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

/** Throughput is measured in this many slices, bridge and reference in turn, so that both see the same load. */
const ROUNDS = 5;

async function measureCase(context: BenchContext, url: string, shape: readonly number[]): Promise<BridgeCase> {
  const label = describePayload(shape);
  const source = context.cleanup.createStream('bridge-source', shape);
  const destination = context.cleanup.createStream('bridge-copy', shape);
  const reference = await openReference(url, payloadBytes(shape));
  try {
    const publisher = await Publisher.start({ server: url, source, subject: `tsshmem.bench.${process.pid}.${shape.join('x')}` });
    const subscriber = await Subscriber.start({ server: url, stream: destination.name, subject: publisher.subject }).catch(async (error: unknown) => {
      await publisher.close();
      throw error;
    });
    try {
      const bridge: BridgeLink = { source, destination, publisher, subscriber };
      await context.progress.step(`bridge ${label}: throughput, bridge and reference in turn`);
      const { bridgeHz, referenceHz } = await throughputInTurn(bridge, reference, context.timing);
      await context.progress.step(`bridge ${label}: latency, bridge and reference in turn`);
      const { bridgeLatency, referenceLatency } = await latencyInTurn(bridge, reference, context.quick ? QUICK_LATENCY_SAMPLES : LATENCY_SAMPLES);
      return { shape, bridgeHz, referenceHz, bridgeLatency, referenceLatency };
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  } finally {
    await reference.publisher.close();
    await reference.subscriber.close();
    context.cleanup.removeStream(source);
    context.cleanup.removeStream(destination);
  }
}

interface BridgeLink {
  readonly source: SharedMemory<'float32'>;
  readonly destination: SharedMemory<'float32'>;
  readonly publisher: Publisher;
  readonly subscriber: Subscriber;
}

interface Delivered {
  readonly frames: number;
  readonly ms: number;
}

async function throughputInTurn(bridge: BridgeLink, reference: ReferenceLink, timing: Timing): Promise<{ bridgeHz: number; referenceHz: number }> {
  const payload = new Uint8Array(payloadBytes(bridge.source.shape)).fill(1);
  await referenceThroughput(reference, payload, timing.warmupSeconds / 2);
  await bridgeThroughput(bridge, timing.warmupSeconds / 2);
  const totals = { bridge: { frames: 0, ms: 0 }, reference: { frames: 0, ms: 0 } };
  const add = (total: { frames: number; ms: number }, slice: Delivered): void => {
    total.frames += slice.frames;
    total.ms += slice.ms;
  };
  for (let round = 0; round < ROUNDS; round++) {
    add(totals.reference, await referenceThroughput(reference, payload, timing.seconds / ROUNDS));
    add(totals.bridge, await bridgeThroughput(bridge, timing.seconds / ROUNDS));
  }
  return { bridgeHz: (totals.bridge.frames * 1000) / totals.bridge.ms, referenceHz: (totals.reference.frames * 1000) / totals.reference.ms };
}

/**
 * Frames written into the destination while the source always has a new
 * frame for the publisher: each frame is written once the publisher has
 * taken the one before. A writer flooding the source from this same thread
 * would spend the bridge's CPU on frames it is meant to skip (a camera
 * writes from its own process); the reference likewise makes one frame per
 * frame sent.
 */
async function bridgeThroughput({ source, publisher, subscriber }: BridgeLink, seconds: number): Promise<Delivered> {
  const frame = new Float32Array(source.size / 4).fill(1);
  const before = subscriber.status().frames;
  const start = performance.now();
  const running = (): boolean => performance.now() - start < seconds * 1000;
  const published = publisher.status().frames;
  // Writes the publisher has taken, sent or skipped (the source was new when
  // it started, so this reaches source.count once it caught up): a write it
  // skipped must not leave the loop waiting for a frame that never goes out.
  const taken = (): number => publisher.status().frames + publisher.status().skipped;
  while (running()) {
    source.write(frame);
    do await nextTurn();
    while (taken() < source.count && running());
  }
  const sent = publisher.status().frames - published;
  await until(() => subscriber.status().frames - before >= sent);
  return { frames: subscriber.status().frames - before, ms: performance.now() - start };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits for the frames in flight at the end of a slice, so that no slice gets another's; gives up after DRAIN_LIMIT_MS. */
async function until(done: () => boolean): Promise<void> {
  const start = performance.now();
  while (!done() && performance.now() - start < DRAIN_LIMIT_MS) await nextTurn();
}

/** One frame at a time, a bridge round trip and a reference round trip in turn. */
async function latencyInTurn(bridge: BridgeLink, reference: ReferenceLink, samples: number): Promise<{ bridgeLatency: Latency; referenceLatency: Latency }> {
  const { source, destination } = bridge;
  const frame = new Float32Array(source.size / 4);
  const out = new Float32Array(source.size / 4);
  const payload = new Uint8Array(source.size);
  const bridgeTimes = new Float64Array(samples);
  const referenceTimes = new Float64Array(samples);
  for (let sample = 0; sample < samples; sample++) {
    referenceTimes[sample] = await referenceRoundTrip(reference, payload, sample);
    const mark = -1 - sample; // no frame of the throughput run has it
    frame.fill(mark);
    const start = performance.now();
    source.write(frame);
    do await destination.next({ out, timeout: 10000 });
    while (out[0] !== mark);
    bridgeTimes[sample] = (performance.now() - start) * 1000;
  }
  return { bridgeLatency: summarizeLatency(bridgeTimes), referenceLatency: summarizeLatency(referenceTimes) };
}

interface ReferenceLink {
  readonly publisher: NatsConnection;
  readonly subscriber: NatsConnection;
  readonly subject: string;
  /** Frames whose every chunk arrived. */
  received: number;
  onFrame: (() => void) | null;
  sequence: number;
}

async function openReference(url: string, bytes: number): Promise<ReferenceLink> {
  const publisher = await connect({ servers: url });
  const subscriber = await connect({ servers: url });
  const chunks = Math.ceil(bytes / chunkBytes(publisher));
  const link: ReferenceLink = { publisher, subscriber, subject: `tsshmem.bench-reference.${process.pid}`, received: 0, onFrame: null, sequence: 0 };
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

function sendReference(link: ReferenceLink, payload: Uint8Array): void {
  const size = chunkBytes(link.publisher);
  link.sequence += 1;
  for (let index = 0, offset = 0; offset < payload.length; index++, offset += size) {
    const header = headers();
    header.set('Tsshmem-Frame', `reference/${link.sequence}`);
    header.set('Tsshmem-Chunk', `${index}/${Math.ceil(payload.length / size)}`);
    link.publisher.publish(`${link.subject}.v.${index}`, payload.subarray(offset, offset + size), { headers: header });
  }
}

/** Frames sent back to back with the bridge's flush window; those whose every chunk arrived count. */
async function referenceThroughput(link: ReferenceLink, payload: Uint8Array, seconds: number): Promise<Delivered> {
  const before = link.received;
  const sequenceBefore = link.sequence;
  const flushes: Promise<void>[] = [];
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    sendReference(link, payload);
    flushes.push(link.publisher.flush());
    if (flushes.length >= IN_FLIGHT) await flushes.shift();
    await nextTurn();
  }
  await until(() => link.received - before >= link.sequence - sequenceBefore);
  return { frames: link.received - before, ms: performance.now() - start };
}

async function referenceRoundTrip(link: ReferenceLink, payload: Uint8Array, sample: number): Promise<number> {
  payload.fill(sample);
  const start = performance.now();
  sendReference(link, payload);
  void link.publisher.flush(); // as the bridge's publisher does after each frame
  while (link.received < link.sequence) await new Promise<void>((resolve) => (link.onFrame = resolve));
  link.onFrame = null;
  return (performance.now() - start) * 1000;
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
      'Reference: the same chunks (with a two-field header: frame and chunk) published and received with the same client, the same flush window of 2 frames.',
      `Throughput: ${ROUNDS} slices, reference and bridge in turn; the source gets a new frame as soon as the publisher took the last. Latency: from the write (or publish) to the whole frame in the destination (a reader's next()) or the reference's subscriber, samples in turn.`,
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
