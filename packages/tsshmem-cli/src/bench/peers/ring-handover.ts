/**
 * One side of the ring section's hand-over ping-pong: the initiator loans a
 * slot of `ping`, writes one element and publishes; the echo takes it as a
 * sample, reads the element, releases it and answers the same way on `pong`.
 * No frame is copied. The initiator times each round trip.
 */
import { open, type RingStream } from 'tsshmem';
import { summarizeLatency, type Latency } from '../measure.js';
import { finish, partnerTimeoutMs, peerArguments, signalReady } from './peer-io.js';
import { END_FRAME } from './ring-flow-protocol.js';

export interface RingHandoverArguments {
  readonly role: 'initiator' | 'echo';
  /** Milliseconds of busy-waiting before sleeping; 0: sleep at once. */
  readonly spinMs: number;
  readonly ping: string;
  readonly pong: string;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

const options = peerArguments<RingHandoverArguments>();
const initiator = options.role === 'initiator';
const outgoing = open(initiator ? options.ping : options.pong) as RingStream<'float32'>;
const incoming = open(initiator ? options.pong : options.ping) as RingStream<'float32'>;
const timeout = partnerTimeoutMs(options.warmupSeconds + options.seconds);
incoming.register();
signalReady();

function send(value: number): void {
  const loan = outgoing.loan();
  loan.array[0] = value;
  loan.publish();
}

async function receive(): Promise<number> {
  const sample = await incoming.nextSample({ timeout, spin: options.spinMs });
  const value = sample.array[0]!;
  sample.release();
  return value;
}

if (initiator) {
  const measureFrom = performance.now() + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;
  let samples = new Float64Array(1 << 16);
  let count = 0;
  for (let round = 1; ; round++) {
    const start = performance.now();
    send(round);
    await receive();
    const now = performance.now();
    if (now < measureFrom) continue;
    if (count === samples.length) {
      const larger = new Float64Array(samples.length * 2);
      larger.set(samples);
      samples = larger;
    }
    samples[count++] = (now - start) * 1000;
    if (now >= end) break;
  }
  send(END_FRAME);
  finish(summarizeLatency(samples.subarray(0, count)) satisfies Latency);
}
for (;;) {
  const value = await receive();
  if (value === END_FRAME) break;
  send(value);
}
finish({});
