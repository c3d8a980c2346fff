/**
 * The wake section's reader of a writer that wakes nobody
 * (bench/c/silent_writer.c): awaits next() for each of its writes and
 * records how long after the write completed (its write time) next() returned.
 */
import { open } from 'tsshmem';
import { type Latency, summarizeLatency } from '../measure.js';
import { finish, partnerTimeoutMs, peerArguments, signalReady } from './peer-io.js';

export interface SilentReaderArguments {
  readonly name: string;
  readonly writes: number;
  readonly seconds: number;
}

export interface SilentWriteDelay extends Latency {
  readonly maxUs: number;
}

const { name, writes, seconds } = peerArguments<SilentReaderArguments>();
const stream = open(name);
const into = new Float32Array(stream.size / Float32Array.BYTES_PER_ELEMENT);
const firstCount = stream.lastReadCount;
const delaysUs = new Float64Array(writes);
let received = 0;
signalReady();
while (stream.lastReadCount - firstCount < writes) {
  await stream.next({ out: into, timeout: partnerTimeoutMs(seconds) });
  delaysUs[received++] = (performance.timeOrigin + performance.now()) * 1000 - stream.writeTime * 1e6;
}
stream.close();
const measured = delaysUs.subarray(0, received);
finish({ ...summarizeLatency(measured), maxUs: Math.max(...measured) } satisfies SilentWriteDelay);
