/**
 * `tsshmem demo`: a writer process and a reader process stream 128x128
 * float32 frames through one stream for a few seconds; the reader checks every
 * frame it sees is whole (constant-filled) and reports what it saw and skipped.
 */
import { constants as bufferConstants } from 'node:buffer';
import { spawn } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { Command } from 'commander';

import { create, type SharedMemory } from 'tsshmem';
import { READY_LINE } from '../demo/handshake.js';
import { SHM_DIRECTORY } from '../inspect.js';
import { formatShapeArgument, MAX_TIMER_MS, parsePositiveInteger, parseShape, parseTimerRate, parseTimerSeconds } from '../parse.js';

export interface DemoReport {
  readonly role: 'writer' | 'reader';
  readonly frames: number;
  readonly skipped?: number;
  readonly torn?: number;
  readonly seconds: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('stream frames from a writer process to a reader process and print the rates')
    .option('-s, --seconds <n>', `how long the writer writes, at most ${MAX_TIMER_MS / 1000}`, parseTimerSeconds, 3)
    .option('--shape <dims>', 'frame shape, e.g. 128x128', parseShape, [128, 128])
    .option('--rate <hz>', `frames per second the writer aims at, at least 1000/${MAX_TIMER_MS} (default: as fast as it can)`, parseTimerRate)
    .option('--history <n>', 'a ring stream of n frame slots (2 to 65536): the reader gets every frame while it stays within n', parsePositiveInteger)
    .option('--block', "with --history: overflow 'block', the writer waits for the reader (nothing is skipped)")
    .action(async (options: DemoOptions, command: Command) => runDemo(options, command));
}

interface DemoOptions {
  readonly seconds: number;
  readonly shape: number[];
  readonly rate?: number;
  readonly history?: number;
  readonly block?: boolean;
}

async function runDemo({ seconds, shape, rate, history, block }: DemoOptions, command: Command): Promise<void> {
  const name = `tsshmem-demo-${process.pid}`;
  if (block === true && history === undefined) command.error('error: --block needs --history');
  const ring = history === undefined ? {} : { history, overflow: block === true ? ('block' as const) : ('overwrite' as const) };
  checkDemoFits(shape, history, command);
  const stream = createDemoStream(name, { shape, dtype: 'float32', ...ring }, command);
  try {
    const pace = rate === undefined ? 'as fast as the writer can' : `at ${rate} Hz`;
    const kind = history === undefined ? 'stream' : `ring stream (history ${history}, overflow '${ring.overflow}')`;
    console.log(`tsshmem demo: ${formatShapeArgument(shape)} float32 frames through ${kind} "${name}" for ${seconds} s, ${pace}`);
    const reader = runRole('reader', name, seconds);
    // The writer starts once the reader has opened (and registered on) the stream: every frame it writes is one the reader can see.
    await reader.ready;
    const writer = runRole('writer', name, seconds, rate);
    const [written, read] = await Promise.all([writer.report, reader.report]);
    const torn = read.torn ?? 0;
    console.log(`writer: ${format(written.frames)} frames in ${written.seconds.toFixed(2)} s = ${format(written.frames / written.seconds)} frames/s`);
    console.log(`reader: ${format(read.frames)} frames seen = ${format(read.frames / read.seconds)} frames/s, ${format(read.skipped ?? 0)} skipped, ${torn} torn`);
    if (read.frames + (read.skipped ?? 0) !== written.frames) throw new Error('seen + skipped does not equal the frames written');
    if (torn > 0) throw new Error(`${torn} frames were torn`);
  } finally {
    stream.unlink();
  }
}

interface RunningRole {
  /** Settles when the role prints its ready line (the writer never does). */
  readonly ready: Promise<void>;
  readonly report: Promise<DemoReport>;
}

/** The options come from the command line: the library's refusal of one (a history past 65536, a frame too large) is a usage error. */
function createDemoStream(name: string, options: Parameters<typeof create>[1], command: Command): SharedMemory {
  try {
    return create(name, options);
  } catch (error) {
    if (isInvalidArgument(error)) command.error(`error: ${error.message}`);
    throw error;
  }
}

const FLOAT32_BYTES = 4;

/**
 * Before anything is created: each role holds a whole frame in one buffer
 * (at most buffer.constants.MAX_LENGTH bytes), and the writer fills every
 * frame slot of the stream, which must fit in the free space of /dev/shm (a
 * write past it would end the writer with SIGBUS).
 */
function checkDemoFits(shape: readonly number[], history: number | undefined, command: Command): void {
  const frameBytes = shape.reduce((product, dimension) => product * dimension, FLOAT32_BYTES);
  const frame = `a ${formatShapeArgument(shape)} float32 frame (${frameBytes} bytes)`;
  if (frameBytes > bufferConstants.MAX_LENGTH) {
    command.error(`error: ${frame} is larger than a buffer can be (${bufferConstants.MAX_LENGTH} bytes): use a smaller --shape`);
  }
  // A ring holds its slots and the pyshmem-visible frame.
  const streamBytes = frameBytes * (history === undefined ? 1 : history + 1);
  const { bavail, bsize } = statfsSync(SHM_DIRECTORY);
  if (streamBytes > bavail * bsize) {
    const slots = history === undefined ? '' : ` x ${history} slots`;
    command.error(`error: ${frame}${slots} needs more than the ${bavail * bsize} bytes free in ${SHM_DIRECTORY}: use a smaller --shape${history === undefined ? '' : ' or --history'}`);
  }
}

function isInvalidArgument(error: unknown): error is Error {
  return error instanceof Error && ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE'].includes((error as { code?: unknown }).code as string);
}

function runRole(role: 'writer' | 'reader', name: string, seconds: number, rate = 0): RunningRole {
  const script = fileURLToPath(new URL(`../demo/${role}.js`, import.meta.url));
  const child = spawn(process.execPath, [script, name, String(seconds), String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let markReady = (): void => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (output.startsWith(`${READY_LINE}\n`)) markReady();
  });
  const report = new Promise<DemoReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the demo ${role} exited with code ${code}`));
      else resolve(JSON.parse(output.startsWith(`${READY_LINE}\n`) ? output.slice(READY_LINE.length + 1) : output) as DemoReport);
    });
  });
  // A role that exits before it is ready fails the demo through its report.
  return { ready: Promise.race([ready, report.then(() => undefined)]), report };
}

function format(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
