/**
 * The viewer answers only requests addressed to this machine by name (a Host
 * of 127.0.0.1 or localhost, any port, so SSH forwarding works; this defeats
 * DNS rebinding) and takes WebSocket connections only from its own page, the
 * same origin as the Host (another site open in the browser must not read the streams).
 */
import type { IncomingMessage } from 'node:http';

const LOCAL_HOSTNAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost']);

export function isLocalHost(request: IncomingMessage): boolean {
  const host = request.headers.host;
  if (host === undefined) return false;
  try {
    return LOCAL_HOSTNAMES.has(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}

export function isOwnPage(request: IncomingMessage): boolean {
  return isLocalHost(request) && request.headers.origin === `http://${request.headers.host}`;
}
