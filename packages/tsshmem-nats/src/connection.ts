/**
 * Connecting to the NATS server with the official client. Authentication
 * and TLS are the client's: the bridge only maps its options onto
 * ConnectionOptions (credentials in the URL, a creds file, a token, a user
 * and password, TLS files).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

import { BridgeError } from './errors.js';

export interface ConnectionSettings {
  /** nats://HOST:PORT or tls://HOST:PORT; may carry user:password@ or token@. */
  readonly server: string;
  /** A NATS credentials file (JWT and NKey seed). */
  readonly creds?: string;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
  /** PEM file of the certificate authority that signed the server's certificate. */
  readonly tlsCa?: string;
  /** PEM files of this client's certificate and key, for servers that verify clients. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** The connection's name as the server's monitoring shows it. */
  readonly name?: string;
}

/** Milliseconds between reconnection attempts; attempts never stop while the bridge runs. */
const RECONNECT_WAIT_MS = 250;
const CONNECT_TIMEOUT_MS = 5000;

export async function connectToServer(settings: ConnectionSettings): Promise<NatsConnection> {
  const options = connectionOptions(settings);
  try {
    return await connect(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BridgeError('ERR_BRIDGE_CONNECT', `cannot connect to the NATS server ${redact(settings.server)}: ${reason} (check the address, the credentials and TLS options)`, {
      cause: error,
    });
  }
}

export function connectionOptions(settings: ConnectionSettings): NodeConnectionOptions {
  const url = parseServer(settings.server);
  const options: NodeConnectionOptions = {
    servers: `${url.protocol}//${url.host}`,
    name: settings.name,
    timeout: CONNECT_TIMEOUT_MS,
    maxReconnectAttempts: -1,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    ...urlCredentials(url),
  };
  if (settings.user !== undefined) options.user = settings.user;
  if (settings.password !== undefined) options.pass = settings.password;
  if (settings.token !== undefined) options.token = settings.token;
  if (settings.creds !== undefined) options.authenticator = credsAuthenticator(readCreds(settings.creds));
  if (settings.tlsCa !== undefined || settings.tlsCert !== undefined || settings.tlsKey !== undefined || url.protocol === 'tls:') {
    options.tls = tlsOptions(settings, url);
  }
  return options;
}

type TlsWithHost = NonNullable<NodeConnectionOptions['tls']> & { host?: string };

/**
 * The client's TLS options. For a server given by IP address the client has
 * no name to check the certificate against (it resolves names only) and
 * Node falls back to "localhost"; `host` makes Node check the IP address,
 * as a certificate for it (subjectAltName IP:...) expects.
 */
function tlsOptions(settings: ConnectionSettings, url: URL): TlsWithHost {
  const tls: TlsWithHost = { caFile: settings.tlsCa, certFile: settings.tlsCert, keyFile: settings.tlsKey };
  const address = url.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 address without its brackets
  if (isIP(address) !== 0) tls.host = address;
  return tls;
}

function readCreds(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `cannot read the credentials file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function parseServer(server: string): URL {
  let url: URL;
  try {
    url = new URL(server.includes('://') ? server : `nats://${server}`);
  } catch {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `server ${JSON.stringify(server)} is not a URL: use nats://HOST:PORT`);
  }
  if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `server ${JSON.stringify(redact(server))} is not a NATS URL: use nats://HOST:PORT or tls://HOST:PORT`);
  }
  return url;
}

/** nats://user:password@host as user and password; nats://token@host as a token. */
function urlCredentials(url: URL): Pick<NodeConnectionOptions, 'user' | 'pass' | 'token'> {
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (user === '') return {};
  return password === '' ? { token: user } : { user, pass: password };
}

/** The server URL without its credentials, for messages and logs. */
export function redact(server: string): string {
  return server.replace(/\/\/[^@/]*@/, '//***@');
}
