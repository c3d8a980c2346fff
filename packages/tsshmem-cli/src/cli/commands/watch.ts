/**
 * `tsshmem watch NAME...`: a live view of streams, sampled every interval:
 * write rate, count, writes skipped by the view, min/max/mean of the latest
 * frame and a sparkline of the rate. On a terminal it redraws in place;
 * otherwise it prints one plain line per stream and sample.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Command } from 'commander';

import { RingStream, type SharedMemory, ShmError } from 'tsshmem';
import { frameStats, type FrameStats } from '../frame-stats.js';
import { MAX_TIMER_MS, parseIntervalMs, parseTimerSeconds } from '../parse.js';
import { openStream, requireStream } from '../streams.js';
import { onStopSignal } from '../stop-signals.js';
import { formatNumber, formatTable, sparkline } from '../text.js';

const RATE_HISTORY = 30;
/** A read waits this long at most for a write in progress, so a stuck writer cannot freeze the view. */
const READ_TIMEOUT_MS = 100;
const CTRL_C = 0x03;
const QUIT_KEYS = [CTRL_C, 'q'.charCodeAt(0), 'Q'.charCodeAt(0)];
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_TO_END = '\x1b[J';

interface WatchOptions {
  readonly interval: number;
  readonly duration?: number;
}

interface Sample {
  readonly label: string;
  /** Writes per second since the previous sample; null on the first. */
  readonly rate: number | null;
  readonly count: number;
  readonly skipped: number;
  readonly stats: FrameStats | null;
  readonly rates: readonly number[];
  /** A ring stream's registered readers, "pid:behind/history" each; null for a plain stream. */
  readonly readers: string | null;
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .summary('live view of write rates and frame statistics')
    .description(
      'live view of streams: write rate in Hz, write count, writes the view skipped, min/max/mean of the latest frame, a ' +
        'sparkline of the rate and, on ring streams, how far behind each registered reader is (past the history it loses frames). q or Ctrl-C quits. When stdout is not a terminal it prints plain lines instead of redrawing',
    )
    .argument('<names...>', 'stream names, or ps_ base names shown by ls')
    .option('-i, --interval <ms>', `milliseconds between samples, 1 to ${MAX_TIMER_MS}`, parseIntervalMs, 500)
    .option('-d, --duration <s>', `stop after this many seconds, at most ${MAX_TIMER_MS / 1000} (default: run until q, Ctrl-C or SIGTERM)`, parseTimerSeconds)
    .action((names: string[], options: WatchOptions) => watch(names, options));
}

async function watch(names: readonly string[], options: WatchOptions): Promise<void> {
  const streams = openAll(names);
  const stop = new AbortController();
  const screen = process.stdout.isTTY ? new LiveScreen(process.stdout) : null;
  const removeStopTriggers = installStopTriggers(stop, options.duration);
  try {
    while (!stop.signal.aborted) {
      const samples = streams.map((stream) => stream.sample());
      if (screen === null) for (const sample of samples) console.log(plainLine(sample));
      else screen.draw([...table(samples), 'q or Ctrl-C quits']);
      await delay(options.interval, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    removeStopTriggers();
    screen?.restore();
    for (const stream of streams) stream.close();
  }
}

function openAll(names: readonly string[]): WatchedStream[] {
  const streams: WatchedStream[] = [];
  try {
    for (const name of names) {
      const address = requireStream(name);
      streams.push(new WatchedStream(address.label, openStream(address)));
    }
    return streams;
  } catch (error) {
    for (const stream of streams) stream.close();
    throw error;
  }
}

class WatchedStream {
  readonly #label: string;
  readonly #stream: SharedMemory;
  readonly #rates: number[] = [];
  #previous: { count: number; time: number } | null = null;
  #stats: FrameStats | null = null;

  constructor(label: string, stream: SharedMemory) {
    this.#label = label;
    this.#stream = stream;
  }

  sample(): Sample {
    const time = performance.now();
    const count = this.#stream.count;
    const previous = this.#previous;
    const rate = previous === null ? null : (count - previous.count) / ((time - previous.time) / 1000);
    if (rate !== null) this.#rates.push(rate);
    if (this.#rates.length > RATE_HISTORY) this.#rates.shift();
    if (previous === null || count !== previous.count) this.#readStats();
    this.#previous = { count, time };
    return { label: this.#label, rate, count, skipped: this.#stream.totalMissedWrites, stats: this.#stats, rates: this.#rates, readers: this.#readers() };
  }

  close(): void {
    this.#stream.close();
  }

  /** How far behind each registered reader of a ring is: past the history, it is losing frames. */
  #readers(): string | null {
    const stream = this.#stream;
    if (!(stream instanceof RingStream)) return null;
    const { readers } = stream.ringStatus();
    return readers.length === 0 ? 'none' : readers.map((reader) => `${reader.pid}:${reader.behind}/${stream.history}`).join(' ');
  }

  /** Keeps the previous statistics when no consistent frame comes in time or the payload lives on a GPU only. */
  #readStats(): void {
    const stream = this.#stream;
    if (stream.gpuDevice !== null && !stream.cpuMirror) return;
    try {
      this.#stats = frameStats(stream.read({ timeout: READ_TIMEOUT_MS, allowInterrupted: true }), stream.dtype);
    } catch (error) {
      if (!(error instanceof ShmError && error.code === 'ETIMEDOUT')) throw error;
    }
  }
}

function plainLine(sample: Sample): string {
  const rate = sample.rate === null ? '-' : `${sample.rate.toFixed(1)}Hz`;
  const stats = sample.stats === null ? '' : ` min=${formatNumber(sample.stats.min)} max=${formatNumber(sample.stats.max)} mean=${formatNumber(sample.stats.mean)}`;
  const readers = sample.readers === null ? '' : ` readers=${sample.readers}`;
  return `${sample.label} rate=${rate} count=${sample.count} skipped=${sample.skipped}${stats}${readers}`;
}

function table(samples: readonly Sample[]): string[] {
  // The ring column only when a ring stream is watched: plain views stay as they were.
  const rings = samples.some((sample) => sample.readers !== null);
  const rows = samples.map((sample) => [
    sample.label,
    sample.rate === null ? '-' : `${sample.rate.toFixed(1)} Hz`,
    String(sample.count),
    String(sample.skipped),
    sample.stats === null ? '-' : formatNumber(sample.stats.min),
    sample.stats === null ? '-' : formatNumber(sample.stats.max),
    sample.stats === null ? '-' : formatNumber(sample.stats.mean),
    sparkline(sample.rates),
    ...(rings ? [sample.readers ?? '-'] : []),
  ]);
  const columns = ['NAME', 'RATE', 'COUNT', 'SKIPPED', 'MIN', 'MAX', 'MEAN', 'RATE HISTORY'];
  return formatTable(rings ? [...columns, 'RING READERS (pid:behind/history)'] : columns, rows);
}

/** Redraws a block of lines in place; hides the cursor until restore(). */
class LiveScreen {
  readonly #output: NodeJS.WriteStream;
  #drawnLines = 0;

  constructor(output: NodeJS.WriteStream) {
    this.#output = output;
    output.write(HIDE_CURSOR);
  }

  draw(lines: readonly string[]): void {
    const width = this.#output.columns > 0 ? this.#output.columns : Infinity;
    const cursorBack = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}F` : '';
    // Lines are cut to the terminal width: a wrapped line would break moving back up.
    const text = lines.map((line) => (line.length > width ? line.slice(0, width) : line)).join('\n');
    this.#output.write(`${cursorBack}${CLEAR_TO_END}${text}\n`);
    this.#drawnLines = lines.length;
  }

  restore(): void {
    this.#output.write(SHOW_CURSOR);
  }
}

/** SIGINT, SIGTERM, the duration, and q or Ctrl-C when stdin is a terminal; returns what undoes them. */
function installStopTriggers(stop: AbortController, durationSeconds: number | undefined): () => void {
  const abort = (): void => stop.abort();
  const stopListeningForSignals = onStopSignal(abort);
  const timer = durationSeconds === undefined ? undefined : setTimeout(abort, durationSeconds * 1000);
  const stopListening = process.stdin.isTTY ? listenForQuitKeys(abort) : undefined;
  return () => {
    stopListeningForSignals();
    clearTimeout(timer);
    stopListening?.();
  };
}

/** In raw mode Ctrl-C arrives as a byte, not as SIGINT. */
function listenForQuitKeys(abort: () => void): () => void {
  const stdin = process.stdin;
  const onData = (chunk: Buffer): void => {
    if (QUIT_KEYS.some((key) => chunk.includes(key))) abort();
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}
