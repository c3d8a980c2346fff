/** One page connected over WebSocket: a StreamFeed per stream, fed by the page's `next` requests. */
import type { WebSocket } from 'ws';

import { openStream, type StreamAddress } from '../streams.js';
import { parseNextRequest, type FailedStream, type ServerMessage } from './protocol.js';
import { StreamFeed } from './stream-feed.js';

export class ViewerConnection {
  readonly #socket: WebSocket;
  readonly #feeds: (StreamFeed | null)[];
  #closing: Promise<void> | null = null;

  constructor(socket: WebSocket, streams: readonly StreamAddress[], maxFps: number) {
    this.#socket = socket;
    const opened = streams.map((address, index) => this.#openFeed(address, index, maxFps));
    this.#feeds = opened.map((entry) => (entry instanceof StreamFeed ? entry : null));
    const descriptions = opened.map((entry) => (entry instanceof StreamFeed ? entry.describe() : entry));
    socket.on('message', (data, isBinary) => {
      const stream = isBinary ? null : parseNextRequest(data.toString());
      if (stream !== null) this.#feeds[stream]?.request();
    });
    socket.on('close', () => void this.close());
    void this.#send(JSON.stringify({ type: 'streams', maxFps, streams: descriptions } satisfies ServerMessage)).catch(() => undefined);
  }

  /** Stops every feed and closes their handles; the socket is dropped. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#socket.terminate();
      await Promise.all(this.#feeds.map((feed) => feed?.close()));
    })();
    return this.#closing;
  }

  #openFeed(address: StreamAddress, index: number, maxFps: number): StreamFeed | FailedStream {
    try {
      return new StreamFeed(index, openStream(address), maxFps, {
        frame: (message) => this.#send(message),
        error: (message) => this.#send(JSON.stringify({ type: 'error', stream: index, message } satisfies ServerMessage)),
      });
    } catch (error) {
      return { name: address.label, error: error instanceof Error ? error.message : String(error) };
    }
  }

  #send(message: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(message, (error) => (error ? reject(error) : resolve())));
  }
}
