/**
 * Which hosts and origins the viewer answers. Listening on a loopback address,
 * it answers only requests addressed to a loopback name (a Host of
 * 127.x.x.x, localhost or [::1], any port, so SSH forwarding works; this
 * defeats DNS rebinding even without a token). It takes WebSocket connections
 * only from its own page, the same origin as the Host (another site open in
 * the browser must not read the streams).
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

/** A listening address only this machine can reach. */
export function isLoopback(address: string): boolean {
  if (address === 'localhost') return true;
  if (isIPv4(address)) return address.startsWith('127.');
  return isIPv6(address) && (address === '::1' || address === '0:0:0:0:0:0:0:1');
}

export function isLocalHost(request: IncomingMessage): boolean {
  const host = request.headers.host;
  if (host === undefined) return false;
  try {
    return isLoopback(new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1'));
  } catch {
    return false;
  }
}

export function isSameOrigin(request: IncomingMessage): boolean {
  return request.headers.host !== undefined && request.headers.origin === `http://${request.headers.host}`;
}
