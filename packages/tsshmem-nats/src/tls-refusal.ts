/**
 * Why a server ended the TLS handshake. The client reports a server that
 * closes the connection after the handshake as a timeout (its reconnection
 * loop takes the close and the error is lost), and a TLS 1.3 server checks
 * the client's certificate only then: a missing or untrusted client
 * certificate would read "timeout". This probe asks the server once more
 * and tells its alert.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

import { serverAddress, type TlsSettings } from './tls.js';

/**
 * The server's TLS alert in words, with what to do when it is about this
 * client's certificate; undefined when the server sent none within
 * timeoutMs. Like the client, it reads the server's INFO line and upgrades
 * to TLS, but then sends nothing: data the server left unread would turn
 * its close into a reset, which can overtake the alert.
 */
export async function tlsRefusal(url: URL, settings: TlsSettings, timeoutMs: number): Promise<string | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  const tcp = connectTcp(Number(url.port || DEFAULT_PORT), serverAddress(url));
  try {
    await once(tcp, 'connect', { signal });
    await infoLine(tcp, signal);
    const secure = connectTls({ socket: tcp, ...(await clientFiles(settings)), ...serverName(url) });
    await once(secure, 'secureConnect', { signal });
    await once(secure, 'close', { signal });
    return undefined;
  } catch (error) {
    return describeTlsAlert(error);
  } finally {
    tcp.destroy();
  }
}

const DEFAULT_PORT = 4222;

/** Resolves once the server's first line (INFO {...}) arrived; the server sends nothing more before the TLS handshake. */
async function infoLine(socket: Socket, signal: AbortSignal): Promise<void> {
  let received = '';
  while (!received.includes('\r\n')) {
    const [chunk] = (await once(socket, 'data', { signal })) as [Buffer];
    received += chunk.toString('latin1');
  }
}

async function clientFiles({ tlsCa, tlsCert, tlsKey }: TlsSettings): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFile(path));
  return { ca: await read(tlsCa), cert: await read(tlsCert), key: await read(tlsKey) };
}

/** The server's certificate checked as the client checks it: against the IP address, or the host name. */
function serverName(url: URL): { host: string } | { servername: string } {
  const address = serverAddress(url);
  return isIP(address) !== 0 ? { host: address } : { servername: address };
}

/** Node's codes for an alert are ERR_SSL_<VERSION>_ALERT_<NAME>. */
function describeTlsAlert(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const alert = typeof code === 'string' ? /^ERR_SSL_\w+?_ALERT_(\w+)$/.exec(code) : null;
  if (alert === null) return undefined;
  const refusal = `the server ended the TLS handshake with "${alert[1]!.toLowerCase().replaceAll('_', ' ')}"`;
  if (!/CERTIFICATE|UNKNOWN_CA/.test(alert[1]!)) return refusal;
  return `${refusal}: a server that verifies clients (tls { verify: true }) wants a client certificate signed by an authority it trusts (--tls-cert and --tls-key)`;
}
