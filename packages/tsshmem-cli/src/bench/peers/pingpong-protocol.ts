/**
 * What the wake section's two ping-pong processes agree on: the initiator
 * writes a frame to `ping`, the echo answers each with a frame on `pong`;
 * element 0 of the END frame tells the echo to stop.
 */
import type { Latency } from '../measure.js';

export const END_FRAME = -1;

/** How a peer waits for the other's frame: await next(), await next({ spin }), or readNewSync(). */
export type WaitMethod = 'next' | 'spin' | 'sync';

export interface PingPongArguments {
  readonly role: 'initiator' | 'echo';
  readonly wait: WaitMethod;
  /** For wait 'spin': milliseconds to busy-wait before sleeping. */
  readonly spinMs: number;
  /** Open the stream this peer writes with exclusiveWriter: true. */
  readonly exclusiveWriter: boolean;
  readonly ping: string;
  readonly pong: string;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

/** The initiator reports the round trips; the echo reports nothing. */
export type PingPongReport = Latency | Record<string, never>;
