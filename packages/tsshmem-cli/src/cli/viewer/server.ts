/**
 * The viewer's HTTP server on 127.0.0.1: the page's files on GET, and the
 * frame WebSocket on /ws (one ViewerConnection per page).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocketServer } from 'ws';

import { loadAssets, type Asset } from './assets.js';
import { ViewerConnection } from './connection.js';
import { isLocalHost, isOwnPage } from './local-origin.js';

const HOST = '127.0.0.1';
const SOCKET_PATH = '/ws';

export interface ViewerOptions {
  readonly names: readonly string[];
  /** 0 picks a free port. */
  readonly port: number;
  /** Most frames a second sent per stream to each page. */
  readonly maxFps: number;
}

export interface Viewer {
  readonly url: string;
  /** Disconnects every page, closes their stream handles and stops the server. */
  close(): Promise<void>;
}

export async function startViewer(options: ViewerOptions): Promise<Viewer> {
  const assets = loadAssets();
  const server = createServer();
  const port = await listen(server, options.port);
  const sockets = new WebSocketServer({ noServer: true });
  const connections = new Set<ViewerConnection>();
  let closing = false;

  server.on('request', (request: IncomingMessage, response: ServerResponse) => serveAsset(assets, request, response));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing || pathOf(request) !== SOCKET_PATH || !isOwnPage(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (webSocket) => {
      const connection = new ViewerConnection(webSocket, options.names, options.maxFps);
      connections.add(connection);
      webSocket.on('close', () => connections.delete(connection));
    });
  });

  return {
    url: `http://${HOST}:${port}/`,
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

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function serveAsset(assets: ReadonlyMap<string, Asset>, request: IncomingMessage, response: ServerResponse): void {
  if (!isLocalHost(request)) return refuse(response, 403);
  if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(response, 405);
  const asset = assets.get(pathOf(request));
  if (asset === undefined) return refuse(response, 404);
  response.writeHead(200, { 'content-type': asset.contentType, 'content-length': asset.body.length, 'cache-control': 'no-store' });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
}

function refuse(response: ServerResponse, status: number): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${status}\n`);
}

function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://localhost').pathname;
}
