/**
 * One stream as one page sees it: its own open handle, and frames delivered
 * one per request, at most maxFps a second. Between requests nothing is read,
 * so a fast writer costs the viewer nothing while the page is busy drawing;
 * the writes it passes over count as dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { NumericArray, SharedMemory } from 'tsshmem';
import { frameStats } from '../frame-stats.js';
import { shownValues } from './frame-values.js';
import { layoutFor, shownElements, type StreamLayout } from './layout.js';
import { encodeFrame, type StreamDescription } from './protocol.js';

export interface FeedOutput {
  frame(message: Buffer): Promise<void>;
  error(message: string): Promise<void>;
}

export class StreamFeed {
  readonly #index: number;
  readonly #stream: SharedMemory;
  readonly #layout: StreamLayout;
  readonly #minIntervalMs: number;
  readonly #output: FeedOutput;
  readonly #abort = new AbortController();
  #frame: NumericArray | undefined;
  #lastDeliveryMs = -Infinity;
  #requested = false;
  #delivering: Promise<void> | null = null;

  constructor(index: number, stream: SharedMemory, maxFps: number, output: FeedOutput) {
    this.#index = index;
    this.#stream = stream;
    this.#layout = layoutFor(stream.shape);
    this.#minIntervalMs = 1000 / maxFps;
    this.#output = output;
  }

  describe(): StreamDescription {
    return { name: this.#stream.name, shape: this.#stream.shape, dtype: this.#stream.dtype, ...this.#layout };
  }

  /**
   * Delivers the next frame (or an error). A request made while a frame is on
   * its way is served after it; requests beyond that one are merged into it.
   */
  request(): void {
    this.#requested = true;
    this.#serveRequest();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#delivering;
    this.#stream.close();
  }

  #serveRequest(): void {
    if (!this.#requested || this.#delivering !== null || this.#abort.signal.aborted) return;
    this.#requested = false;
    this.#delivering = this.#deliver().finally(() => {
      this.#delivering = null;
      this.#serveRequest();
    });
  }

  async #deliver(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      // Never negative: newer Node versions warn about negative timeouts, and the first delivery waits -Infinity.
      await sleep(Math.max(0, this.#lastDeliveryMs + this.#minIntervalMs - performance.now()), undefined, { signal });
      this.#frame = await this.#readFrame(signal);
      this.#lastDeliveryMs = performance.now();
      await this.#output.frame(this.#encode(this.#frame));
    } catch (error) {
      if (signal.aborted) return;
      await this.#output.error(error instanceof Error ? error.message : String(error)).catch(() => undefined);
    }
  }

  /** The first request gets the stream's current frame, if it has one; later requests wait for a newer write. */
  async #readFrame(signal: AbortSignal): Promise<NumericArray> {
    const stream = this.#stream;
    if (this.#frame === undefined && stream.count > 0) return stream.read();
    // newest: on a ring stream the page shows the newest frame and never holds writers back.
    return stream.next({ out: this.#frame, signal, newest: true });
  }

  #encode(frame: NumericArray): Buffer {
    const stream = this.#stream;
    const info = {
      stream: this.#index,
      count: stream.lastReadCount,
      writeTime: stream.writeTime,
      dropped: stream.totalMissedWrites,
      stats: frameStats(frame, stream.dtype),
    };
    return encodeFrame(info, shownValues(frame, stream.dtype, shownElements(this.#layout)));
  }
}
