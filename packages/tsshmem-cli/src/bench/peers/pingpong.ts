/** One side of the wake section's ping-pong (see pingpong-protocol.ts); the initiator times each round trip. */
import { open, type SharedMemory } from 'tsshmem';
import { summarizeLatency, type Latency } from '../measure.js';
import { END_FRAME, type PingPongArguments } from './pingpong-protocol.js';
import { finish, partnerTimeoutMs, peerArguments, signalReady } from './peer-io.js';

const options = peerArguments<PingPongArguments>();
const initiator = options.role === 'initiator';
const outgoing = open(initiator ? options.ping : options.pong, { exclusiveWriter: options.exclusiveWriter });
const incoming = open(initiator ? options.pong : options.ping);
const frame = new Float32Array(outgoing.size / Float32Array.BYTES_PER_ELEMENT);
const received = new Float32Array(incoming.size / Float32Array.BYTES_PER_ELEMENT);
const receive = receiver(incoming, received, partnerTimeoutMs(options.warmupSeconds + options.seconds));
signalReady();
if (initiator) finish(await measureRoundTrips());
await echo();
finish({});

/** A function that returns once the next frame is in `into`: a promise, or nothing when it blocked. */
function receiver(stream: SharedMemory, into: Float32Array, timeout: number): () => Promise<unknown> | undefined {
  switch (options.wait) {
    case 'next':
      return () => stream.next({ out: into, timeout });
    case 'spin':
      return () => stream.next({ out: into, timeout, spin: options.spinMs });
    case 'sync':
      return () => void stream.readNewSync({ out: into, timeout });
  }
}

async function echo(): Promise<void> {
  for (;;) {
    const pending = receive();
    if (pending !== undefined) await pending;
    if (received[0] === END_FRAME) return;
    outgoing.write(frame);
  }
}

async function measureRoundTrips(): Promise<Latency> {
  const measureFrom = performance.now() + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;
  let samples: Float64Array = new Float64Array(1 << 16);
  let count = 0;
  for (let round = 1; ; round++) {
    frame[0] = round;
    const start = performance.now();
    outgoing.write(frame);
    const pending = receive();
    if (pending !== undefined) await pending;
    const now = performance.now();
    if (now < measureFrom) continue;
    if (count === samples.length) samples = grown(samples);
    samples[count++] = (now - start) * 1000;
    if (now >= end) break;
  }
  frame[0] = END_FRAME;
  outgoing.write(frame);
  return summarizeLatency(samples.subarray(0, count));
}

function grown(samples: Float64Array): Float64Array {
  const larger = new Float64Array(samples.length * 2);
  larger.set(samples);
  return larger;
}
