/**
 * The bridge's TLS files: checked before connecting, so that a missing,
 * unreadable or mismatched file is an argument error that names the file
 * rather than a failed connection; then handed to the client by name (it
 * reads them again at each reconnection, so renewed certificates are used).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';

import type { NodeConnectionOptions } from '@nats-io/transport-node';

import { BridgeError, messageOf } from './errors.js';

export interface TlsSettings {
  /** PEM file of the certificate authority that signed the server's certificate. */
  readonly tlsCa?: string;
  /** PEM files of this client's certificate and key, for servers that verify clients. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

type TlsWithHost = NonNullable<NodeConnectionOptions['tls']> & { host?: string };

export function usesTlsFiles(settings: TlsSettings): boolean {
  return settings.tlsCa !== undefined || settings.tlsCert !== undefined || settings.tlsKey !== undefined;
}

/**
 * The client's TLS options. For a server given by IP address the client has
 * no name to check the certificate against (it resolves names only) and
 * Node falls back to "localhost"; `host` makes Node check the IP address,
 * as a certificate for it (subjectAltName IP:...) expects.
 */
export function tlsOptions(settings: TlsSettings, url: URL): TlsWithHost {
  const tls: TlsWithHost = { caFile: settings.tlsCa, certFile: settings.tlsCert, keyFile: settings.tlsKey };
  const address = serverAddress(url);
  if (isIP(address) !== 0) tls.host = address;
  return tls;
}

/** The server's host name or IP address (an IPv6 address without its brackets). */
function serverAddress(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** A client certificate comes with its key; each file is readable PEM; the key is the certificate's. */
export async function checkTlsFiles(settings: TlsSettings): Promise<void> {
  const { tlsCa, tlsCert, tlsKey } = settings;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', 'a client certificate and its private key go together: give both tlsCert and tlsKey (--tls-cert and --tls-key), or neither');
  }
  if (tlsCa !== undefined) {
    const ca = await readTlsFile(tlsCa, 'certificate authority', '--tls-ca');
    usable(() => new X509Certificate(ca), `the certificate authority file ${tlsCa} (--tls-ca) is not a PEM certificate`);
  }
  if (tlsCert !== undefined && tlsKey !== undefined) {
    const cert = await readTlsFile(tlsCert, 'client certificate', '--tls-cert');
    const key = await readTlsFile(tlsKey, 'client key', '--tls-key');
    usable(() => createSecureContext({ cert, key }), `the client certificate ${tlsCert} (--tls-cert) and key ${tlsKey} (--tls-key) are not a PEM certificate and its private key`);
  }
}

async function readTlsFile(path: string, role: string, option: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `cannot read the TLS ${role} file ${path} (${option}): ${messageOf(error)}`, { cause: error });
  }
}

function usable(check: () => unknown, problem: string): void {
  try {
    check();
  } catch (error) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `${problem}: ${messageOf(error)}`, { cause: error });
  }
}
