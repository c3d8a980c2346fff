/**
 * The publishing side: every new frame of a local stream goes out on NATS,
 * chunked to the server's max payload.
 *
 * Latest-value mode never queues without bound: at most IN_FLIGHT frames
 * are between this process and the server (a frame counts until the
 * server's PONG to the flush that follows it). While the window is full the
 * source is not read; the next read returns the newest frame and the
 * source's missedWrites says how many were skipped.
 *
 * Lossless mode publishes through JetStream and waits for the server's
 * acknowledgement of every chunk; a frame that is not acknowledged (the
 * server restarted) is sent again, with message ids so the server drops
 * the duplicates. Frames the source wrote meanwhile are skipped at the
 * source (a latest-value stream keeps one frame) and counted.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NumericArray, type SharedMemory, ShmError } from 'tsshmem';
import { dtypeByName } from 'tsshmem/internal';

import { type Deferred, deferred } from './deferred.js';
import { DEFAULT_KEEP_INTERVAL_MS, DEFAULT_RETENTION_FRAMES } from './defaults.js';
import { closeConnection, connectToServer, type ConnectionSettings } from './connection.js';
import { BridgeError, messageOf } from './errors.js';
import { encodeHeader, type FrameInfo } from './header.js';
import { type BridgeMode, ensureStore, jetStreamOf } from './server-store.js';
import { checkSubject, type ChunkKind, chunkSubject, defaultSubject } from './subjects.js';
import { checkTimerMilliseconds } from './timer-option.js';

/** Frames between this process and the server in latest-value mode. */
const IN_FLIGHT = 2;
/** Room left in each message for the headers. */
const HEADER_ROOM = 4096;
const LOSSLESS_ACK_TIMEOUT_MS = 2000;
const LOSSLESS_RETRY_MS = 200;

export interface PublisherOptions extends ConnectionSettings {
  /** The local stream whose frames are published; the caller keeps it and closes it. */
  readonly source: SharedMemory;
  /** Default: defaultSubject(source.name). */
  readonly subject?: string;
  readonly lossless?: boolean;
  /** Lossless mode: the frames the server keeps for subscribers that were away. */
  readonly retentionFrames?: number;
  /**
   * Latest-value mode: milliseconds between frames the server keeps for late
   * subscribers; above 0 and at most 2^31 - 1 (it is also how long a quiet
   * source is waited on), else ERR_BRIDGE_ARGUMENT.
   */
  readonly keepInterval?: number;
}

export interface PublisherStatus {
  readonly role: 'publisher';
  readonly subject: string;
  readonly mode: BridgeMode;
  readonly connected: boolean;
  /** Whether the server keeps frames (JetStream): late subscribers get the last one at once. */
  readonly keeps: boolean;
  /** Frames published. */
  readonly frames: number;
  /** Payload bytes of the frames published. */
  readonly bytes: number;
  /** Frames the source wrote that were not published (the newest is always sent; see missedWrites). */
  readonly skipped: number;
  /** Frames published but discarded by a disconnection before the server took them. */
  readonly lost: number;
  /** Milliseconds between the source's write of the last frame published and its publication. */
  readonly lagMs: number | null;
  readonly reconnects: number;
}

interface Outgoing {
  readonly info: FrameInfo;
  readonly bytes: Uint8Array;
}

export class Publisher {
  readonly subject: string;
  readonly mode: BridgeMode;
  /** Settles when the publisher stops: after close(), or with the error that stopped it. */
  readonly finished: Promise<void>;
  readonly #connection: NatsConnection;
  readonly #source: SharedMemory;
  readonly #jetStream: JetStreamClient | null;
  readonly #keepIntervalMs: number;
  readonly #chunkBytes: number;
  readonly #run = randomBytes(4).toString('hex');
  readonly #stop = new AbortController();
  readonly #free: NumericArray[];
  #keeps: boolean;
  #connected = true;
  #reconnected: Deferred | null = null;
  #windowFreed: Deferred | null = null;
  #sequence = 0;
  #lastKeptAt = -Infinity;
  /** The last frame went out volatile: once the source is quiet it is sent again to be kept. */
  #keepPending = false;
  #frames = 0;
  #bytes = 0;
  #skipped = 0;
  #lost = 0;
  #lagMs: number | null = null;
  #reconnects = 0;

  private constructor(connection: NatsConnection, options: PublisherOptions, subject: string, mode: BridgeMode, keeps: boolean) {
    this.#connection = connection;
    this.#source = options.source;
    this.subject = subject;
    this.mode = mode;
    this.#keeps = keeps;
    this.#jetStream = mode === 'lossless' ? jetstream(connection, { timeout: LOSSLESS_ACK_TIMEOUT_MS }) : null;
    this.#keepIntervalMs = options.keepInterval ?? DEFAULT_KEEP_INTERVAL_MS;
    this.#chunkBytes = Math.max(HEADER_ROOM, (connection.info?.max_payload ?? 1 << 20) - HEADER_ROOM);
    const { ArrayType, itemSize } = dtypeByName(options.source.dtype);
    this.#free = Array.from({ length: mode === 'lossless' ? 1 : IN_FLIGHT }, () => new ArrayType(options.source.size / itemSize));
    this.#watchConnection(options);
    this.finished = this.#publishLoop().finally(() => closeConnection(connection));
    // Observed here so that a failure nobody awaits does not end the process; awaiting finished still sees it.
    this.finished.catch(() => undefined);
  }

  /** Connects, prepares the server's stream and starts publishing; the subject is ready when this resolves. */
  static async start(options: PublisherOptions): Promise<Publisher> {
    const subject = checkSubject(options.subject ?? defaultSubject(options.source.name));
    const mode: BridgeMode = options.lossless === true ? 'lossless' : 'latest';
    checkRetention(options.retentionFrames);
    checkTimerMilliseconds(options.keepInterval, 'keepInterval');
    const connection = await connectToServer({ name: `tsshmem bridge publish ${subject}`, ...options });
    try {
      const keeps = await prepareStore(connection, subject, mode, options, chunkCount(options.source.size, connection));
      return new Publisher(connection, options, subject, mode, keeps);
    } catch (error) {
      await closeConnection(connection);
      throw error;
    }
  }

  status(): PublisherStatus {
    return {
      role: 'publisher',
      subject: this.subject,
      mode: this.mode,
      connected: this.#connected,
      keeps: this.#keeps,
      frames: this.#frames,
      bytes: this.#bytes,
      skipped: this.#skipped,
      lost: this.#lost,
      lagMs: this.#lagMs,
      reconnects: this.#reconnects,
    };
  }

  /** Stops publishing, waits for what is in flight, and closes the connection. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#reconnected?.resolve();
    this.#windowFreed?.resolve();
    await this.finished.catch(() => undefined);
  }

  async #publishLoop(): Promise<void> {
    const source = this.#source;
    const signal = this.#stop.signal;
    if (source.count > 0) await this.#publishCurrent();
    while (!signal.aborted) {
      const out = await this.#takeBuffer();
      if (out === null) break;
      let frame: NumericArray;
      try {
        frame = await source.next({ out, signal, timeout: this.#keepPending ? this.#keepIntervalMs : Infinity });
      } catch (error) {
        this.#free.push(out);
        if (signal.aborted) break;
        if (error instanceof ShmError && error.code === 'ETIMEDOUT') {
          await this.#publishCurrent();
          continue;
        }
        throw error;
      }
      this.#skipped += source.missedWrites;
      await this.#publish(frame, true);
    }
    await this.#drain();
  }

  /** The source's current frame: at start, and again to be kept once the source is quiet. */
  async #publishCurrent(): Promise<void> {
    const out = await this.#takeBuffer();
    if (out === null) return;
    const before = this.#source.lastReadCount;
    const frame = this.#source.read({ out });
    const isNew = this.#source.lastReadCount !== before || this.#sequence === 0;
    if (isNew) this.#skipped += this.#source.missedWrites;
    await this.#publish(frame, isNew);
  }

  async #publish(frame: NumericArray, isNew: boolean): Promise<void> {
    if (isNew) this.#sequence += 1;
    const source = this.#source;
    const info: FrameInfo = {
      run: this.#run,
      sequence: this.#sequence,
      count: source.lastReadCount,
      writeTime: source.writeTime,
      shape: source.shape,
      dtype: source.dtype,
      bytes: source.size,
      chunks: chunkCount(source.size, this.#connection),
    };
    const outgoing = { info, bytes: new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength) };
    this.#lagMs = info.writeTime > 0 ? Math.max(0, Date.now() - info.writeTime * 1000) : null;
    if (this.mode === 'lossless') {
      await this.#sendLossless(outgoing);
      this.#returnBuffer(frame);
    } else {
      this.#sendLatest(outgoing, frame);
    }
    if (isNew) {
      this.#frames += 1;
      this.#bytes += info.bytes;
    }
  }

  /** Core NATS publication; the buffer returns to the pool when the server has taken the frame. */
  #sendLatest(outgoing: Outgoing, buffer: NumericArray): void {
    const now = performance.now();
    const kind: ChunkKind = this.#keeps && now - this.#lastKeptAt >= this.#keepIntervalMs ? 'k' : 'v';
    if (kind === 'k') this.#lastKeptAt = now;
    this.#keepPending = this.#keeps && kind === 'v';
    this.#forEachChunk(outgoing, (subject, data, index) =>
      this.#connection.publish(chunkSubject(subject, kind, index), data, { headers: encodeHeader(outgoing.info, index) }),
    );
    this.#connection.flush().then(
      () => this.#returnBuffer(buffer),
      () => {
        this.#lost += 1;
        this.#returnBuffer(buffer);
      },
    );
  }

  /** Every chunk acknowledged by JetStream, sending the frame again until it is (duplicates dropped by message id). */
  async #sendLossless(outgoing: Outgoing): Promise<void> {
    const jetStream = this.#jetStream as JetStreamClient;
    const { run, sequence } = outgoing.info;
    while (!this.#stop.signal.aborted) {
      const acks: Promise<unknown>[] = [];
      this.#forEachChunk(outgoing, (subject, data, index) => {
        const options = { headers: encodeHeader(outgoing.info, index), msgID: `${run}/${sequence}/${index}`, timeout: LOSSLESS_ACK_TIMEOUT_MS };
        acks.push(jetStream.publish(chunkSubject(subject, 'k', index), data, options));
      });
      const failure = await Promise.all(acks).then(
        () => null,
        (error: unknown) => error,
      );
      if (failure === null) break;
      await delay(LOSSLESS_RETRY_MS);
      await this.#waitForConnection();
    }
  }

  #forEachChunk(outgoing: Outgoing, send: (subject: string, data: Uint8Array, index: number) => void): void {
    const { bytes } = outgoing;
    for (let index = 0, offset = 0; offset < bytes.length; index++, offset += this.#chunkBytes) {
      send(this.subject, bytes.subarray(offset, Math.min(bytes.length, offset + this.#chunkBytes)), index);
    }
  }

  #returnBuffer(buffer: NumericArray): void {
    this.#free.push(buffer);
    this.#windowFreed?.resolve();
  }

  /** A free buffer, once the window has room and the connection is up; null when stopping. */
  async #takeBuffer(): Promise<NumericArray | null> {
    for (;;) {
      await this.#waitForConnection();
      // Looked at after the wait: a close() during it found no window wait to wake, and the window may stay full.
      if (this.#stop.signal.aborted) return null;
      const buffer = this.#free.pop();
      if (buffer !== undefined) return buffer;
      this.#windowFreed = deferred();
      await this.#windowFreed.promise;
      this.#windowFreed = null;
    }
  }

  async #waitForConnection(): Promise<void> {
    while (!this.#connected && !this.#stop.signal.aborted) {
      this.#reconnected ??= deferred();
      await this.#reconnected.promise;
    }
  }

  /** Waits until the frames in flight are taken by the server (or lost). */
  async #drain(): Promise<void> {
    if (!this.#connection.isClosed() && this.#connected) await this.#connection.flush().catch(() => undefined);
  }

  #watchConnection(options: PublisherOptions): void {
    void (async () => {
      for await (const status of this.#connection.status()) {
        if (status.type === 'disconnect') this.#connected = false;
        if (status.type !== 'reconnect') continue;
        this.#reconnects += 1;
        // A memory stream's messages do not survive a server restart; make sure the stream does.
        this.#keeps = await prepareStore(this.#connection, this.subject, this.mode, options, chunkCount(this.#source.size, this.#connection)).catch(() => false);
        this.#connected = true;
        this.#reconnected?.resolve();
        this.#reconnected = null;
      }
    })();
  }
}

/** Whether the server keeps frames; throws in lossless mode where it cannot. */
async function prepareStore(connection: NatsConnection, subject: string, mode: BridgeMode, options: PublisherOptions, chunks: number): Promise<boolean> {
  const manager = await jetStreamOf(connection);
  if (manager === null) {
    if (mode === 'lossless') throw new BridgeError('ERR_BRIDGE_JETSTREAM', 'lossless mode needs JetStream: start nats-server with -js (and -sd DIR)');
    return false;
  }
  const maxMessages = (options.retentionFrames ?? DEFAULT_RETENTION_FRAMES) * chunks;
  try {
    await ensureStore(manager, { subject, mode, maxMessages });
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    throw new BridgeError('ERR_BRIDGE_JETSTREAM', `cannot prepare the JetStream stream of ${subject}: ${messageOf(error)}`, { cause: error });
  }
  return true;
}

function checkRetention(frames: number | undefined): void {
  if (frames !== undefined && !(Number.isSafeInteger(frames) && frames >= 1)) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `retentionFrames must be a positive integer, got ${frames}`);
  }
}

export function chunkCount(bytes: number, connection: NatsConnection): number {
  const chunkBytes = Math.max(HEADER_ROOM, (connection.info?.max_payload ?? 1 << 20) - HEADER_ROOM);
  return Math.ceil(bytes / chunkBytes);
}
