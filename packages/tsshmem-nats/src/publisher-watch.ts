/**
 * A lossless subscriber's wait for its publisher's JetStream stream. The
 * server announces each stream it creates with a JetStream advisory
 * ($JS.EVENT.ADVISORY.STREAM.CREATED.<stream>, nats-server 2.2 and later),
 * so the subscriber looks again as soon as the publisher created it. A look
 * every interval stays as a safety net: an advisory is a core NATS message,
 * sent once and kept nowhere, so one sent while the subscriber was
 * disconnected (it also looks again after each reconnection) or one its
 * user may not subscribe to never comes.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

import { type Deferred, deferred } from './deferred.js';
import { jetStreamName } from './subjects.js';

export class PublisherWatch {
  readonly #subscription: Subscription;
  readonly #intervalMs: number;
  #announced: Deferred = deferred();

  private constructor(connection: NatsConnection, subject: string, intervalMs: number) {
    this.#intervalMs = intervalMs;
    // An error (no permission to subscribe) leaves the interval to find the stream.
    this.#subscription = connection.subscribe(`$JS.EVENT.ADVISORY.STREAM.CREATED.${jetStreamName(subject)}`, { callback: () => this.wake() });
  }

  /** Resolves once the server has the subscription: a stream created after that is announced. */
  static async start(connection: NatsConnection, subject: string, intervalMs: number): Promise<PublisherWatch> {
    const watch = new PublisherWatch(connection, subject, intervalMs);
    await connection.flush();
    return watch;
  }

  /** Resolves at the next announcement or wake() since the last call, or after the interval. */
  async next(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const interval = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#intervalMs).unref()));
    try {
      await Promise.race([this.#announced.promise, interval]);
    } finally {
      clearTimeout(timer);
      this.#announced = deferred();
    }
  }

  /** Look again now (after a reconnection, when an announcement may have been missed). */
  wake(): void {
    this.#announced.resolve();
  }

  close(): void {
    this.#subscription.unsubscribe();
  }
}
