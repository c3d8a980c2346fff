/**
 * Reassembles frames from their chunks. A frame is complete when each of
 * its chunks arrived once with consistent sizes; one that is superseded
 * before that is dropped whole, never handed out torn.
 *
 * Chunk offsets follow from the sizes (every chunk but the last has the
 * same size), so the wire needs no offset field and a subscriber behind a
 * server with another max payload still places chunks right.
 */
import type { ChunkInfo, FrameInfo } from './header.js';

export interface CompleteFrame {
  readonly info: FrameInfo;
  /** The assembled payload; valid until the next call to add(). */
  readonly bytes: Uint8Array;
}

export type ChunkOutcome =
  | { readonly kind: 'pending' }
  | { readonly kind: 'complete'; readonly frame: CompleteFrame }
  | { readonly kind: 'rejected'; readonly reason: string };

interface Partial {
  readonly info: ChunkInfo;
  readonly received: Uint8Array;
  receivedChunks: number;
  chunkBytes: number | null;
  lastBytes: number;
}

export class FrameAssembler {
  readonly #buffer: Uint8Array;
  readonly #onIncomplete: (info: FrameInfo) => void;
  #partial: Partial | null = null;

  /** buffer: as many bytes as a frame (the local stream's size), reused for every frame. */
  constructor(buffer: Uint8Array, onIncomplete: (info: FrameInfo) => void) {
    this.#buffer = buffer;
    this.#onIncomplete = onIncomplete;
  }

  add(info: ChunkInfo, data: Uint8Array): ChunkOutcome {
    if (info.bytes !== this.#buffer.length) return { kind: 'rejected', reason: `frame of ${info.bytes} bytes, the stream holds ${this.#buffer.length}` };
    const partial = this.#partialFor(info);
    if (partial.received[info.index] === 1) return { kind: 'pending' };
    const isLast = info.index === info.chunks - 1;
    if (!isLast) {
      partial.chunkBytes ??= data.length;
      if (data.length !== partial.chunkBytes || (info.index + 1) * data.length > info.bytes) return { kind: 'rejected', reason: 'chunk sizes do not add up' };
    }
    if (isLast) partial.lastBytes = data.length;
    const offset = isLast ? info.bytes - data.length : info.index * data.length;
    this.#buffer.set(data, offset);
    partial.received[info.index] = 1;
    partial.receivedChunks += 1;
    if (partial.receivedChunks < info.chunks) return { kind: 'pending' };
    this.#partial = null;
    if (partial.lastBytes !== info.bytes - (partial.chunkBytes ?? 0) * (info.chunks - 1)) return { kind: 'rejected', reason: 'chunk sizes do not add up' };
    return { kind: 'complete', frame: { info, bytes: this.#buffer } };
  }

  /** Drops the frame in progress (counted as incomplete), e.g. after the connection was lost. */
  abandon(): void {
    if (this.#partial !== null) this.#onIncomplete(this.#partial.info);
    this.#partial = null;
  }

  #partialFor(info: ChunkInfo): Partial {
    const current = this.#partial;
    if (current !== null && current.info.run === info.run && current.info.sequence === info.sequence && current.info.chunks === info.chunks) return current;
    this.abandon();
    const partial: Partial = { info, received: new Uint8Array(info.chunks), receivedChunks: 0, chunkBytes: null, lastBytes: 0 };
    this.#partial = partial;
    return partial;
  }
}
