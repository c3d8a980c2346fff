/** One page connected over WebSocket: a StreamFeed per stream, fed by the page's `next` requests. */
import type { WebSocket } from 'ws';

import { open } from 'tsshmem';
import { parseNextRequest, type FailedStream, type ServerMessage } from './protocol.js';
import { StreamFeed } from './stream-feed.js';

export class ViewerConnection {
  readonly #socket: WebSocket;
  readonly #feeds: (StreamFeed | null)[];
  #closing: Promise<void> | null = null;

  constructor(socket: WebSocket, names: readonly string[], maxFps: number) {
    this.#socket = socket;
    const opened = names.map((name, index) => this.#openFeed(name, index, maxFps));
    this.#feeds = opened.map((entry) => (entry instanceof StreamFeed ? entry : null));
    const streams = opened.map((entry) => (entry instanceof StreamFeed ? entry.describe() : entry));
    socket.on('message', (data, isBinary) => {
      const stream = isBinary ? null : parseNextRequest(data.toString());
      if (stream !== null) this.#feeds[stream]?.request();
    });
    socket.on('close', () => void this.close());
    void this.#send(JSON.stringify({ type: 'streams', maxFps, streams } satisfies ServerMessage)).catch(() => undefined);
  }

  /** Stops every feed and closes their handles; the socket is dropped. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#socket.terminate();
      await Promise.all(this.#feeds.map((feed) => feed?.close()));
    })();
    return this.#closing;
  }

  #openFeed(name: string, index: number, maxFps: number): StreamFeed | FailedStream {
    try {
      return new StreamFeed(index, open(name), maxFps, {
        frame: (message) => this.#send(message),
        error: (message) => this.#send(JSON.stringify({ type: 'error', stream: index, message } satisfies ServerMessage)),
      });
    } catch (error) {
      return { name, error: error instanceof Error ? error.message : String(error) };
    }
  }

  #send(message: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(message, (error) => (error ? reject(error) : resolve())));
  }
}
