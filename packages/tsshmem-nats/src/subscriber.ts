/**
 * The subscribing side: frames received on NATS are reassembled and written
 * into a local stream, which local readers (tsshmem or pyshmem) use as any
 * other.
 *
 * Latest-value mode listens on core NATS and, at start, takes the last frame
 * the server keeps, so a late subscriber has a frame at once. Lossless mode
 * reads a durable JetStream consumer: after a disconnection or a restart it
 * resumes after the last frame it acknowledged, and counts the frames that
 * fell out of the server's retention meanwhile. A lossless subscriber
 * started before its publisher waits for the publisher's stream and then
 * takes every frame from the first.
 */
import { hostname } from 'node:os';

import { AckPolicy, type ConsumerMessages, DeliverPolicy, jetstream, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { type SharedMemory, ShmError } from 'tsshmem';
import { dtypeByName } from 'tsshmem/internal';

import { FrameAssembler } from './assembler.js';
import { closeConnection, connectToServer, type ConnectionSettings } from './connection.js';
import { DEFAULT_PUBLISHER_CHECK_INTERVAL_MS } from './defaults.js';
import { type Deferred, deferred } from './deferred.js';
import { BridgeError } from './errors.js';
import { type ChunkInfo, decodeHeader, type FrameInfo } from './header.js';
import { createOrOpen, describeLayout, sameLayout } from './local-stream.js';
import { PublisherWatch } from './publisher-watch.js';
import { type BridgeMode, jetStreamOf, lastChunk, storeMode } from './server-store.js';
import { allChunks, checkSubject, defaultSubject, jetStreamName, parseChunkSubject } from './subjects.js';
import { checkTimerMilliseconds } from './timer-option.js';

const KEPT_FETCH_PARALLEL = 16;
const LOSSLESS_BATCH = 256;
const ACK_WAIT_NS = 30e9;

export interface SubscriberOptions extends ConnectionSettings {
  /** The local stream frames are written into (created with the publisher's shape and dtype if missing). */
  readonly stream: string;
  /** Default: defaultSubject(stream). */
  readonly subject?: string;
  readonly lossless?: boolean;
  /** Lossless mode: the durable consumer's name, default from the host and stream names. */
  readonly durable?: string;
  /**
   * Lossless mode, while waiting for the publisher: milliseconds between
   * looks for its JetStream stream, a safety net behind the server's
   * announcement of the stream (default DEFAULT_PUBLISHER_CHECK_INTERVAL_MS);
   * above 0 and at most 2^31 - 1 (Node's longest timer), else ERR_BRIDGE_ARGUMENT.
   */
  readonly publisherCheckInterval?: number;
  /** Called when the local stream is created or opened, and once per kind of rejected message. */
  readonly onEvent?: (event: SubscriberEvent) => void;
}

export type SubscriberEvent =
  | { readonly event: 'stream'; readonly name: string; readonly created: boolean; readonly shape: readonly number[]; readonly dtype: string }
  | { readonly event: 'rejected'; readonly reason: string };

export interface SubscriberStatus {
  readonly role: 'subscriber';
  readonly subject: string;
  readonly mode: BridgeMode;
  readonly connected: boolean;
  /** Lossless mode: no publisher has created the subject's stream yet; its frames are taken from the first when one does. */
  readonly waitingForPublisher: boolean;
  /** Frames written into the local stream. */
  readonly frames: number;
  readonly bytes: number;
  /** Frames the publisher sent that were not written (gaps in its frame numbers; lossless: fell out of retention). */
  readonly dropped: number;
  /** Of those, frames that arrived in part (a chunk missing) and were dropped whole. */
  readonly incomplete: number;
  /** Messages on the subject that were not valid chunks of a frame of the stream's shape, skipped. */
  readonly rejected: number;
  /** Milliseconds from the source's write of the last frame written to its write here (clocks of both hosts). */
  readonly lagMs: number | null;
  readonly reconnects: number;
}

interface FrameId {
  readonly run: string;
  readonly sequence: number;
}

export class Subscriber {
  readonly subject: string;
  readonly mode: BridgeMode;
  /** Settles when the subscriber stops: after close(), or with the error that stopped it. */
  readonly finished: Promise<void>;
  readonly #connection: NatsConnection;
  readonly #options: SubscriberOptions;
  readonly #stopped: Deferred = deferred();
  #failure: unknown = null;
  #closing = false;
  #local: SharedMemory | null = null;
  #assembler: FrameAssembler | null = null;
  #lastHandled: FrameId | null = null;
  #reportedReasons = new Set<string>();
  #connected = true;
  #waitingForPublisher = false;
  #publisherWatch: PublisherWatch | null = null;
  #frames = 0;
  #bytes = 0;
  #dropped = 0;
  #incomplete = 0;
  #rejected = 0;
  #lagMs: number | null = null;
  #reconnects = 0;

  private constructor(connection: NatsConnection, options: SubscriberOptions, subject: string, mode: BridgeMode) {
    this.#connection = connection;
    this.#options = options;
    this.subject = subject;
    this.mode = mode;
    this.#watchConnection();
    this.finished = this.#stopped.promise.then(() => this.#shutDown());
    // Observed here so that a failure nobody awaits does not end the process; awaiting finished still sees it.
    this.finished.catch(() => undefined);
  }

  /**
   * Connects and listens; resolves once frames are being received
   * (latest-value: after taking the kept frame; lossless without a
   * publisher yet: once waiting for it, see status().waitingForPublisher).
   */
  static async start(options: SubscriberOptions): Promise<Subscriber> {
    const subject = checkSubject(options.subject ?? defaultSubject(options.stream));
    const mode: BridgeMode = options.lossless === true ? 'lossless' : 'latest';
    checkTimerMilliseconds(options.publisherCheckInterval, 'publisherCheckInterval');
    const connection = await connectToServer({ name: `tsshmem bridge subscribe ${subject}`, ...options });
    try {
      const manager = await jetStreamOf(connection);
      const subscriber = new Subscriber(connection, options, subject, mode);
      if (mode === 'lossless') await subscriber.#startLossless(manager);
      else await subscriber.#startLatest(manager);
      return subscriber;
    } catch (error) {
      await closeConnection(connection);
      throw error;
    }
  }

  status(): SubscriberStatus {
    return {
      role: 'subscriber',
      subject: this.subject,
      mode: this.mode,
      connected: this.#connected,
      waitingForPublisher: this.#waitingForPublisher,
      frames: this.#frames,
      bytes: this.#bytes,
      dropped: this.#dropped,
      incomplete: this.#incomplete,
      rejected: this.#rejected,
      lagMs: this.#lagMs,
      reconnects: this.#reconnects,
    };
  }

  /** Stops receiving and closes the connection; the local stream stays, with its last frame. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#stopped.resolve();
    await this.finished.catch(() => undefined);
  }

  async #shutDown(): Promise<void> {
    this.#closing = true;
    await closeConnection(this.#connection).catch(() => undefined);
    this.#local?.close();
    if (this.#failure !== null) throw this.#failure;
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    this.#stopped.resolve();
  }

  async #startLatest(manager: JetStreamManager | null): Promise<void> {
    this.#connection.subscribe(allChunks(this.subject), {
      callback: (error, message) => {
        if (error === null) this.#receive(message.subject, message.headers, message.data);
      },
    });
    await this.#connection.flush();
    if (manager !== null && (await storeMode(manager, this.subject)) !== null) await this.#takeKeptFrame(manager);
  }

  /** The last frame the server keeps, written unless a newer one arrived live meanwhile. */
  async #takeKeptFrame(manager: JetStreamManager): Promise<void> {
    const name = jetStreamName(this.subject);
    const first = await lastChunk(manager, name, this.subject, 0);
    const header = first === null ? null : decodeHeader(first.header, first.data.length);
    if (first === null || header === null || typeof header === 'string') return;
    const messages = [first];
    for (let index = 1; index < header.chunks; index += KEPT_FETCH_PARALLEL) {
      const batch = [];
      for (let chunk = index; chunk < Math.min(header.chunks, index + KEPT_FETCH_PARALLEL); chunk++) batch.push(lastChunk(manager, name, this.subject, chunk));
      for (const message of await Promise.all(batch)) if (message !== null) messages.push(message);
    }
    if (this.#lastHandled !== null || this.#closing) return;
    const local = this.#localFor(header);
    if (local === null) return;
    const assembler = new FrameAssembler(new Uint8Array(local.size), () => undefined);
    for (const message of messages) {
      const chunk = decodeHeader(message.header, message.data.length);
      if (typeof chunk === 'string' || chunk.run !== header.run || chunk.sequence !== header.sequence) return;
      const outcome = assembler.add(chunk, message.data);
      if (outcome.kind === 'complete' && this.#lastHandled === null) this.#write(outcome.frame.info, outcome.frame.bytes);
    }
  }

  /**
   * Reads the lossless stream of the subject; if there is none yet (the
   * publisher has not started), waits for it in the background and then
   * reads it from its first frame, so that nothing the publisher sent is
   * missed. The local stream is created at the first frame, as always.
   */
  async #startLossless(manager: JetStreamManager | null): Promise<void> {
    if (manager === null) throw new BridgeError('ERR_BRIDGE_JETSTREAM', 'lossless mode needs JetStream: start nats-server with -js (and -sd DIR)');
    const mode = await storeMode(manager, this.subject);
    if (mode === 'lossless') return this.#consumeLossless(manager, false);
    if (mode === 'latest') throw this.#latestValueBridgeError();
    const watch = await PublisherWatch.start(this.#connection, this.subject, this.#options.publisherCheckInterval ?? DEFAULT_PUBLISHER_CHECK_INTERVAL_MS);
    this.#publisherWatch = watch;
    this.#waitingForPublisher = true;
    void this.#waitForPublisher(manager, watch).catch((error: unknown) => this.#fail(error));
  }

  /** Looks first: the stream may have appeared before the watch was subscribed. */
  async #waitForPublisher(manager: JetStreamManager, watch: PublisherWatch): Promise<void> {
    try {
      for (;;) {
        const mode = await storeMode(manager, this.subject);
        if (this.#closing) return;
        if (mode === 'latest') throw this.#latestValueBridgeError();
        if (mode === 'lossless') break;
        await Promise.race([watch.next(), this.#stopped.promise]);
        if (this.#closing) return;
      }
    } finally {
      this.#publisherWatch = null;
      watch.close();
    }
    this.#waitingForPublisher = false;
    await this.#consumeLossless(manager, true);
  }

  #latestValueBridgeError(): BridgeError {
    return new BridgeError('ERR_BRIDGE_MODE_MISMATCH', `subject ${this.subject} carries a latest-value bridge: drop --lossless, or use another --subject`);
  }

  /** fromStart: a new durable consumer starts at the stream's first frame instead of its newest. */
  async #consumeLossless(manager: JetStreamManager, fromStart: boolean): Promise<void> {
    const durable = this.#options.durable ?? `${hostname()}_${this.#options.stream}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const resumeAt = await resumePosition(manager, jetStreamName(this.subject), this.subject, durable, fromStart);
    const messages = await this.#consumeFrom(manager, durable, resumeAt);
    void this.#losslessLoop(manager, durable, messages, resumeAt).catch((error: unknown) => this.#fail(error));
  }

  /** (Re)creates the durable consumer at stream sequence start: everything before it was handled. */
  async #consumeFrom(manager: JetStreamManager, durable: string, start: number): Promise<ConsumerMessages> {
    const name = jetStreamName(this.subject);
    await manager.consumers.delete(name, durable).catch(() => undefined);
    await manager.consumers.add(name, {
      durable_name: durable,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
      filter_subject: allChunks(this.subject),
      ack_wait: ACK_WAIT_NS,
      max_ack_pending: -1,
    });
    const consumer = await jetstream(this.#connection).consumers.get(name, durable);
    return consumer.consume({ max_messages: LOSSLESS_BATCH });
  }

  async #losslessLoop(manager: JetStreamManager, durable: string, first: ConsumerMessages, resumeAt: number): Promise<void> {
    const name = jetStreamName(this.subject);
    let messages = first;
    let expected = resumeAt;
    let afterStart = true;
    const stop = (): void => messages.stop();
    this.#stopped.promise.then(stop, stop);
    while (!this.#closing) {
      let restartAt: number | null = null;
      for await (const message of messages) {
        if (message.seq > expected) {
          const firstKept = (await manager.streams.info(name)).state.first_seq;
          if (expected >= firstKept) {
            restartAt = expected; // delivered to the old connection and lost: ask for them again
            break;
          }
        }
        if (message.seq < expected) continue;
        if (afterStart) this.#countResumeGap(message, message.seq - resumeAt);
        afterStart = false;
        expected = message.seq + 1;
        this.#receive(message.subject, message.headers, message.data, message);
      }
      if (this.#closing || restartAt === null) break;
      messages = await this.#consumeFrom(manager, durable, restartAt);
    }
  }

  /** Frames that fell out of retention before a resumed consumer's first message: whole frames of chunk messages. */
  #countResumeGap(message: JsMsg, missedMessages: number): void {
    const chunk = decodeHeader(message.headers, message.data.length);
    if (typeof chunk === 'string') return;
    this.#dropped += Math.floor(missedMessages / chunk.chunks);
    this.#lastHandled = { run: chunk.run, sequence: chunk.sequence - 1 };
  }

  #receive(subject: string, header: MsgHdrs | undefined, data: Uint8Array, message?: JsMsg): void {
    if (this.#closing) return;
    try {
      const rejection = this.#handleChunk(subject, header, data);
      if (rejection !== null) this.#reject(rejection);
      if (message !== undefined && (rejection !== null || this.#lastHandledIs(header))) message.ack();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** null when the chunk was taken (or was a duplicate), else why it was rejected. */
  #handleChunk(subject: string, header: MsgHdrs | undefined, data: Uint8Array): string | null {
    if (parseChunkSubject(this.subject, subject) === null) return `message on ${subject}, not a chunk subject`;
    const chunk = decodeHeader(header, data.length);
    if (typeof chunk === 'string') return chunk;
    if (this.#isHandled(chunk)) return null;
    const local = this.#localFor(chunk);
    if (local === null) return `frame of ${describeLayout(chunk.shape, chunk.dtype)}, the stream is ${describeLayout(this.#local?.shape ?? [], this.#local?.dtype ?? 'float32')}`;
    this.#assembler ??= new FrameAssembler(new Uint8Array(local.size), () => (this.#incomplete += 1));
    const outcome = this.#assembler.add(chunk, data);
    if (outcome.kind === 'rejected') return outcome.reason;
    if (outcome.kind === 'complete') this.#write(outcome.frame.info, outcome.frame.bytes);
    return null;
  }

  #isHandled(chunk: ChunkInfo): boolean {
    const last = this.#lastHandled;
    return last !== null && last.run === chunk.run && chunk.sequence <= last.sequence;
  }

  #lastHandledIs(header: MsgHdrs | undefined): boolean {
    const chunk = decodeHeader(header, 0);
    return typeof chunk !== 'string' && chunk.index === chunk.chunks - 1 && this.#isHandled(chunk);
  }

  /** The local stream, created or opened at the first frame; null if this frame's layout differs from it. */
  #localFor(info: FrameInfo): SharedMemory | null {
    if (this.#local === null) {
      const { stream, created } = createOrOpen(this.#options.stream, info.shape, info.dtype, this.subject);
      this.#local = stream;
      this.#options.onEvent?.({ event: 'stream', name: this.#options.stream, created, shape: stream.shape, dtype: stream.dtype });
    }
    return sameLayout(this.#local, info.shape, info.dtype) ? this.#local : null;
  }

  #write(info: FrameInfo, bytes: Uint8Array): void {
    const local = this.#local as SharedMemory;
    const last = this.#lastHandled;
    if (last !== null && last.run === info.run && info.sequence > last.sequence + 1) this.#dropped += info.sequence - last.sequence - 1;
    this.#lastHandled = { run: info.run, sequence: info.sequence };
    const { ArrayType, itemSize } = dtypeByName(local.dtype);
    try {
      local.write(new ArrayType(bytes.buffer, bytes.byteOffset, bytes.byteLength / itemSize));
    } catch (error) {
      if (!(error instanceof ShmError && error.code === 'ETIMEDOUT')) throw error;
      this.#dropped += 1; // a local process held the stream's lock too long
      return;
    }
    this.#frames += 1;
    this.#bytes += bytes.byteLength;
    this.#lagMs = info.writeTime > 0 ? Math.max(0, Date.now() - info.writeTime * 1000) : null;
  }

  #reject(reason: string): void {
    this.#rejected += 1;
    const kind = reason.replace(/\d+/g, 'N');
    if (this.#reportedReasons.has(kind)) return;
    this.#reportedReasons.add(kind);
    this.#options.onEvent?.({ event: 'rejected', reason });
  }

  #watchConnection(): void {
    void (async () => {
      for await (const status of this.#connection.status()) {
        if (status.type === 'disconnect') {
          this.#connected = false;
          this.#assembler?.abandon();
        }
        if (status.type === 'reconnect') {
          this.#connected = true;
          this.#reconnects += 1;
          this.#publisherWatch?.wake();
        }
      }
    })();
  }
}

/**
 * Where a durable consumer resumes: after its acknowledged frames; for a new
 * one, at the newest frame, or at the first one kept (fromStart).
 */
async function resumePosition(manager: JetStreamManager, name: string, subject: string, durable: string, fromStart: boolean): Promise<number> {
  const existing = await manager.consumers.info(name, durable).catch(() => null);
  if (existing !== null) return existing.ack_floor.stream_seq + 1;
  if (fromStart) return Math.max(1, (await manager.streams.info(name)).state.first_seq);
  const newest = await lastChunk(manager, name, subject, 0);
  if (newest !== null) return newest.seq;
  return (await manager.streams.info(name)).state.last_seq + 1;
}
