/** `tsshmem dump NAME`: a consistent snapshot of one stream as a NumPy .npy file. */
import { closeSync, openSync, writeSync } from 'node:fs';

import type { Command } from 'commander';

import { RingStream } from 'tsshmem';

import { encodeNpyHeader } from '../npy.js';
import { openStream, requireStream, type StreamAddress } from '../streams.js';
import { formatShape } from '../text.js';

const STDOUT = '-';

export function registerDump(program: Command): void {
  program
    .command('dump')
    .summary('write a snapshot of a stream as a NumPy .npy file')
    .description(
      'write a consistent snapshot of a stream (one completed write) as a NumPy .npy file. Without -o it goes to stdout ' +
        'when stdout is not a terminal, else to NAME.npy in the working directory (characters other than letters, digits, ' +
        '".", "_" and "-" become "_")',
    )
    .argument('<name>', 'stream name, or the ps_ base name shown by ls')
    .option('-o, --output <file>', `the .npy file to write, "${STDOUT}" for stdout`)
    .option('--history', 'on a ring stream: every frame it holds, oldest first, as one array of shape (frames, *shape)')
    .action(async (name: string, options: { output?: string; history?: boolean }) => dump(requireStream(name), options.output, options.history === true));
}

interface Snapshot {
  readonly header: Buffer;
  readonly payload: Uint8Array;
  readonly description: string;
}

async function dump(address: StreamAddress, output: string | undefined, history: boolean): Promise<void> {
  const snapshot = history ? takeHistory(address) : takeSnapshot(address);
  const destination = output ?? (process.stdout.isTTY ? defaultFileName(address.label) : STDOUT);
  if (destination === STDOUT) {
    await writeToStdout(snapshot.header);
    await writeToStdout(snapshot.payload);
    return;
  }
  writeFile(destination, [snapshot.header, snapshot.payload]);
  console.log(`${address.label}: ${snapshot.description} -> ${destination}`);
}

function takeSnapshot(address: StreamAddress): Snapshot {
  const stream = openStream(address);
  try {
    const frame = stream.read();
    return {
      header: encodeNpyHeader(stream.dtype, stream.shape),
      payload: new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength),
      description: `${formatShape(stream.shape)} ${stream.dtype}, write ${stream.lastReadCount}`,
    };
  } finally {
    stream.close();
  }
}

/** Every frame a ring holds, stacked oldest first. */
function takeHistory(address: StreamAddress): Snapshot {
  const stream = openStream(address);
  try {
    if (!(stream instanceof RingStream)) throw new Error(`${address.label} is not a ring stream: --history needs one (create it with a history)`);
    const frames = stream.heldFrames();
    const payload = new Uint8Array(frames.length * stream.size);
    frames.forEach((frame, i) => payload.set(new Uint8Array(frame.array.buffer, frame.array.byteOffset, stream.size), i * stream.size));
    const first = frames[0]?.count ?? 0;
    const last = frames.at(-1)?.count ?? 0;
    return {
      header: encodeNpyHeader(stream.dtype, [frames.length, ...stream.shape]),
      payload,
      description: `${frames.length} frames of ${formatShape(stream.shape)} ${stream.dtype}${frames.length > 0 ? `, writes ${first} to ${last}` : ''}`,
    };
  } finally {
    stream.close();
  }
}

function defaultFileName(label: string): string {
  return `${label.replace(/[^A-Za-z0-9._-]/g, '_')}.npy`;
}

function writeToStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())));
}

function writeFile(path: string, parts: readonly Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const part of parts) {
      for (let written = 0; written < part.length; ) written += writeSync(fd, part, written);
    }
  } finally {
    closeSync(fd);
  }
}
