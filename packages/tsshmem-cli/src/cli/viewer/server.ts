/**
 * The viewer's HTTP server: the page's files on GET, and the frame WebSocket
 * on ws (one ViewerConnection per page), all under the access token
 * (token.ts) unless it was turned off.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocketServer } from 'ws';

import { loadAssets, type Asset } from './assets.js';
import { ViewerConnection } from './connection.js';
import { isLocalHost, isLoopback, isSameOrigin } from './local-origin.js';
import type { StreamAddress } from '../streams.js';
import { tokenGate } from './token.js';

const SOCKET_PATH = '/ws';

export interface ViewerOptions {
  /** The streams shown, each addressed as the command resolved it (a name, or a base name). */
  readonly streams: readonly StreamAddress[];
  /** The address to listen on. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The first segment of every path served; null: none (loopback only, checked by the command). */
  readonly token: string | null;
  /** Most frames a second sent per stream to each page. */
  readonly maxFps: number;
}

export interface Viewer {
  /** The page's address, token included. */
  readonly url: string;
  /** Disconnects every page, closes their stream handles and stops the server. */
  close(): Promise<void>;
}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const assets = loadAssets();
  const server = createServer();
  const port = await listen(server, options.host, options.port);
  const sockets = new WebSocketServer({ noServer: true });
  const connections = new Set<ViewerConnection>();
  const underToken = tokenGate(options.token);
  // On a loopback address only loopback Host names are answered (against DNS rebinding); elsewhere the token guards alone.
  const hostAllowed = isLoopback(options.host) ? isLocalHost : () => true;
  /** The path asked for under the token; null if the request must be refused. */
  const authorisedPath = (request: IncomingMessage): string | null => (hostAllowed(request) ? underToken(pathOf(request)) : null);
  let closing = false;

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const path = authorisedPath(request);
    if (path === null) return refuse(response, 403, 'open the address that tsshmem view printed: it carries the access token');
    if (path === '') return redirect(response, `/${options.token}/`);
    serveAsset(assets, path, request, response);
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing || authorisedPath(request) !== SOCKET_PATH || !isSameOrigin(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (webSocket) => {
      const connection = new ViewerConnection(webSocket, options.streams, options.maxFps);
      connections.add(connection);
      webSocket.on('close', () => connections.delete(connection));
    });
  });

  return {
    url: `http://${urlHost(options.host)}:${port}/${options.token === null ? '' : `${options.token}/`}`,
    async close() {
      closing = true;
      await Promise.all([...connections].map((connection) => connection.close()));
      sockets.close();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function serveAsset(assets: ReadonlyMap<string, Asset>, path: string, request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(response, 405);
  const asset = assets.get(path);
  if (asset === undefined) return refuse(response, 404);
  response.writeHead(200, {
    'content-type': asset.contentType,
    'content-length': asset.body.length,
    'cache-control': 'no-store',
    // The token is in the page's address: never send it on.
    'referrer-policy': 'no-referrer',
  });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
}

function refuse(response: ServerResponse, status: number, advice?: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(advice === undefined ? `${status}\n` : `${status}: ${advice}\n`);
}

function redirect(response: ServerResponse, location: string): void {
  response.writeHead(301, { location, 'referrer-policy': 'no-referrer' }).end();
}

function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://localhost').pathname;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
