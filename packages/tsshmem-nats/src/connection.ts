/**
 * Connecting to the NATS server with the official client. Authentication
 * and TLS are the client's: the bridge only maps its options onto
 * ConnectionOptions (credentials in the URL, a creds file, a token, a user
 * and password, TLS files).
 */
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { connect, credsAuthenticator, errors, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

import { BridgeError, messageOf } from './errors.js';
import { checkTlsFiles, tlsOptions, usesTlsFiles, type TlsSettings } from './tls.js';

export interface ConnectionSettings extends TlsSettings {
  /** nats://HOST:PORT or tls://HOST:PORT; may carry user:password@ or token@. */
  readonly server: string;
  /** A NATS credentials file (JWT and NKey seed). */
  readonly creds?: string;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
  /** The connection's name as the server's monitoring shows it. */
  readonly name?: string;
}

/** Milliseconds between reconnection attempts; attempts never stop while the bridge runs. */
const RECONNECT_WAIT_MS = 250;
const CONNECT_TIMEOUT_MS = 5000;

export async function connectToServer(settings: ConnectionSettings): Promise<NatsConnection> {
  const options = connectionOptions(settings);
  await checkTlsFiles(settings);
  try {
    return await connect(options);
  } catch (error) {
    const reason = refusalReason(error, options);
    throw new BridgeError('ERR_BRIDGE_CONNECT', `cannot connect to the NATS server ${redact(settings.server)}: ${reason} (check the address, the credentials and TLS options)`, {
      cause: error,
    });
  }
}

/**
 * Closes the connection one turn of the event loop after the caller's last
 * command (the UNSUB of a stopped consumer or watch, a PUB), never in the
 * same turn. With @nats-io/transport-node and nats-core 3.4.0, a command is
 * written to the socket in a microtask; if the server has just gone, the
 * socket has already been ended (Node answers the server's FIN with end()
 * and the client has not yet seen the socket close), the write fails, and
 * its 'error' is emitted on the next tick, after the pending microtasks. A
 * close() started in the same turn gets through those microtasks to the
 * transport, which removes every listener of the socket, so the error is
 * uncaught and ends the process (ERR_STREAM_WRITE_AFTER_END, test/78). A
 * turn later the client's own 'error' listener has taken it.
 */
export async function closeConnection(connection: NatsConnection): Promise<void> {
  await nextTurn();
  await connection.close();
}

/**
 * The client's reason. A TLS 1.3 server that verifies clients refuses a
 * missing or untrusted client certificate with an alert after the
 * handshake, which the client reports only as a timeout: say so.
 */
function refusalReason(error: unknown, options: NodeConnectionOptions): string {
  const reason = messageOf(error);
  if (!(error instanceof errors.TimeoutError) || options.tls === undefined) return reason;
  return `${reason}; over TLS this is also how a server that verifies clients (tls { verify: true }) refuses a missing or untrusted client certificate: pass --tls-cert and --tls-key, signed by an authority the server trusts`;
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
  if (usesTlsFiles(settings) || url.protocol === 'tls:') {
    options.tls = tlsOptions(settings, url);
  }
  return options;
}

function readCreds(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BridgeError('ERR_BRIDGE_ARGUMENT', `cannot read the credentials file ${path}: ${messageOf(error)}`, { cause: error });
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
