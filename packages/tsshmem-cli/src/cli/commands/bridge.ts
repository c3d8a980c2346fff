/**
 * `tsshmem bridge publish|subscribe STREAM --server nats://HOST:PORT`: the
 * NATS bridge of tsshmem-nats (docs/bridge.md). A live status line on a
 * terminal, JSON lines otherwise (or with --json); SIGINT and SIGTERM stop
 * it cleanly.
 */
import { type Command, InvalidArgumentError } from 'commander';

import type { ConnectionSettings, PublisherStatus, SubscriberEvent, SubscriberStatus } from 'tsshmem-nats';
import { DEFAULT_KEEP_INTERVAL_MS, DEFAULT_RETENTION_FRAMES } from 'tsshmem-nats/defaults';
import { MAX_TIMER_MS, parseIntervalMs } from '../parse.js';
import { onStopSignal } from '../stop-signals.js';
import { openStream, requireStream } from '../streams.js';

const DEFAULT_INTERVAL_MS = 1000;

/**
 * The bridge and its NATS client, loaded when a bridge command runs: every
 * other command starts without them (the client's transport also makes Node
 * set up its fetch machinery, which costs start-up time and address space).
 */
function loadBridge(): Promise<typeof import('tsshmem-nats')> {
  return import('tsshmem-nats');
}
const CLEAR_LINE = '\r\x1b[2K';

interface BridgeCommandOptions extends ConnectionSettings {
  readonly subject?: string;
  readonly lossless?: boolean;
  readonly retentionFrames?: number;
  readonly keepInterval?: number;
  readonly durable?: string;
  readonly interval: number;
  readonly json?: boolean;
}

type Status = PublisherStatus | SubscriberStatus;

interface Bridge {
  readonly finished: Promise<void>;
  status(): Status;
  close(): Promise<void>;
}

export function registerBridge(program: Command): void {
  const bridge = program
    .command('bridge')
    .summary('carry a stream to other hosts through a NATS server')
    .description('carry the frames of a stream to other hosts through a NATS server (docs/bridge.md)');
  withCommonOptions(
    bridge
      .command('publish')
      .description('publish every new frame of a local stream (tsshmem or pyshmem) on a NATS subject')
      .argument('<stream>', 'stream name, or ps_ base name shown by ls')
      .option('--keep-interval <ms>', `latest-value mode: milliseconds between frames the server keeps for late subscribers, 1 to ${MAX_TIMER_MS}`, parseIntervalMs, DEFAULT_KEEP_INTERVAL_MS)
      .option('--retention-frames <n>', 'lossless mode: frames the server keeps for subscribers that were away', parseCount, DEFAULT_RETENTION_FRAMES),
  ).action(async (name: string, options: BridgeCommandOptions) => {
    const source = openStream(requireStream(name));
    try {
      const { Publisher } = await loadBridge();
      const publisher = await Publisher.start({ ...connection(options), source, subject: options.subject, lossless: options.lossless, retentionFrames: options.retentionFrames, keepInterval: options.keepInterval });
      await runBridge(publisher, options, `publishing ${name} on ${publisher.subject} (${describeMode(publisher.status())})`);
    } finally {
      source.close();
    }
  });
  withCommonOptions(
    bridge
      .command('subscribe')
      .description("write the frames received on a NATS subject into a local stream, created with the publisher's shape and dtype if missing")
      .argument('<stream>', 'the local stream name')
      .option('--durable <name>', 'lossless mode: the durable consumer (default: from the host and stream names)'),
  ).action(async (name: string, options: BridgeCommandOptions) => {
    const output = new Output(options);
    const { Subscriber } = await loadBridge();
    const subscriber = await Subscriber.start({
      ...connection(options),
      stream: name,
      subject: options.subject,
      lossless: options.lossless,
      durable: options.durable,
      onEvent: (event) => output.event(event),
    });
    await runBridge(subscriber, options, `subscribed ${name} to ${subscriber.subject} (${describeMode(subscriber.status())})`, output);
  });
}

function withCommonOptions(command: Command): Command {
  return command
    .requiredOption('--server <url>', 'the NATS server: nats://HOST:PORT or tls://HOST:PORT, credentials allowed (nats://user:password@HOST:PORT)')
    .option('--subject <subject>', 'the NATS subject (default: tsshmem.<stream name>, printed at start)')
    .option('--lossless', 'through a JetStream stream with bounded retention; subscribers resume where they stopped')
    .option('--creds <file>', 'NATS credentials file')
    .option('--token <token>', 'authentication token')
    .option('--user <user>', 'user name')
    .option('--password <password>', 'password')
    .option('--tls-ca <file>', 'PEM certificate authority for the server certificate')
    .option('--tls-cert <file>', 'PEM client certificate, for a server that verifies clients (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('-i, --interval <ms>', 'milliseconds between status lines', parseIntervalMs, DEFAULT_INTERVAL_MS)
    .option('--json', 'JSON lines instead of the live status line (the default when stdout is not a terminal)');
}

function connection(options: BridgeCommandOptions): ConnectionSettings {
  const { server, creds, token, user, password, tlsCa, tlsCert, tlsKey } = options;
  return { server, creds, token, user, password, tlsCa, tlsCert, tlsKey };
}

async function runBridge(bridge: Bridge, options: BridgeCommandOptions, startLine: string, output = new Output(options)): Promise<void> {
  const { redact } = await loadBridge();
  // Listening before the start line: whoever reads that line may stop us at once.
  const stopListening = onStopSignal(() => void bridge.close());
  output.started(startLine, bridge.status(), redact(options.server));
  let previous = { status: bridge.status(), time: performance.now() };
  const timer = setInterval(() => {
    const current = { status: bridge.status(), time: performance.now() };
    output.status(current.status, previous.status, (current.time - previous.time) / 1000);
    previous = current;
  }, options.interval);
  try {
    await bridge.finished;
  } finally {
    clearInterval(timer);
    stopListening();
    output.stopped(bridge.status());
  }
}

/** A live line on a terminal, JSON lines otherwise. */
class Output {
  readonly #json: boolean;

  constructor(options: BridgeCommandOptions) {
    this.#json = options.json === true || process.stdout.isTTY !== true;
  }

  started(line: string, status: Status, server: string): void {
    if (this.#json) this.#line({ event: 'started', server, ...status });
    else process.stdout.write(`${line}\n`);
  }

  event(event: SubscriberEvent): void {
    if (this.#json) this.#line(event);
    else if (event.event === 'stream') process.stdout.write(`${CLEAR_LINE}${event.created ? 'created' : 'opened'} ${event.name}: ${event.shape.join('x')} ${event.dtype}\n`);
    else process.stdout.write(`${CLEAR_LINE}skipping messages: ${event.reason}\n`);
  }

  status(status: Status, previous: Status, seconds: number): void {
    const framesPerSecond = (status.frames - previous.frames) / seconds;
    const megabytesPerSecond = (status.bytes - previous.bytes) / seconds / 1e6;
    if (this.#json) {
      this.#line({ event: 'status', ...status, framesPerSecond: round(framesPerSecond), megabytesPerSecond: round(megabytesPerSecond) });
      return;
    }
    const losses = status.role === 'publisher' ? `skipped ${status.skipped}  lost ${status.lost}` : `dropped ${status.dropped}  rejected ${status.rejected}`;
    const lag = status.lagMs === null ? '-' : `${status.lagMs.toFixed(1)} ms`;
    const link = !status.connected ? 'reconnecting' : status.role === 'subscriber' && status.waitingForPublisher ? 'waiting for the publisher' : 'connected';
    process.stdout.write(`${CLEAR_LINE}${framesPerSecond.toFixed(1)} frames/s  ${megabytesPerSecond.toFixed(1)} MB/s  ${losses}  lag ${lag}  ${link}`);
  }

  stopped(status: Status): void {
    if (this.#json) this.#line({ event: 'stopped', ...status });
    else process.stdout.write(`\nstopped after ${status.frames} frames\n`);
  }

  #line(record: object): void {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
}

function describeMode(status: Status): string {
  if (status.role === 'subscriber' && status.waitingForPublisher) return `lossless; waiting for the publisher: no lossless bridge on ${status.subject} yet`;
  if (status.mode === 'lossless') return 'lossless';
  if (status.role === 'publisher' && !status.keeps) return 'latest value; the server has no JetStream, late subscribers wait for the next frame';
  return 'latest value';
}

function round(value: number): number {
  return Number(value.toFixed(2));
}

function parseCount(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError('expected a positive integer');
  return value;
}
