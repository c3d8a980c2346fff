// The bridge's security is NATS's own (issue 14, item 6): a token, a user
// and password, TLS and a credentials file, each tested against a real
// nats-server that demands it. With the right credential a frame crosses to
// the other host intact; with a wrong one the bridge stops with
// ERR_BRIDGE_CONNECT and a message that names the cause, and writes nothing
// even though a frame is there to be taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { create } from '../packages/tsshmem/dist/index.js';
import { Publisher } from '../packages/tsshmem-nats/dist/index.js';
import { leftovers, run, streamName } from './helpers.js';
import { cliPath, freePort, remoteDigest, sha256, startBridge, startNatsServer, startRemoteBridge, temporaryDirectory } from './bridge-helpers.js';
import { makeOperatorCredentials, makeTlsFiles } from './bridge-credentials.js';

const TEST_TIMEOUT = 60000;
const started = (record) => record.event === 'started';

/**
 * A publisher on this host and a subscriber on the remote one, each with its
 * own connection arguments; resolves once a frame written here was read
 * back intact there. Returns the subject and everything both printed.
 */
async function frameCrosses(t, { publisherArgs, subscriberArgs }) {
  const name = streamName(t, 'bridge-auth');
  const source = create(name, { shape: [64, 64], dtype: 'uint16' });
  const remote = startRemoteBridge(t, 'subscribe', [name, ...subscriberArgs]);
  await remote.bridge.next(started, 'the subscriber started');
  const publisher = startBridge(t, 'publish', [name, ...publisherArgs]);
  const { subject } = await publisher.next(started, 'the publisher started');
  const frame = Uint16Array.from({ length: 64 * 64 }, (_, index) => (index * 7919) % 65536);
  source.write(frame);
  await remote.bridge.status((status) => status.frames === 1, 'the frame written remotely');
  const digest = await remoteDigest(remote, name);
  assert.deepEqual([digest.count, digest.sha256], [1, sha256(frame)]);
  return { subject, printed: JSON.stringify([...publisher.records, ...remote.bridge.records]) + publisher.stderr + remote.bridge.stderr };
}

/**
 * A bridge with a wrong credential: Publisher.start rejects with
 * ERR_BRIDGE_CONNECT, and `tsshmem bridge subscribe` on the subject that
 * carries a frame exits 1 with the message and never creates its stream.
 */
async function refused(t, { settings, args, subject, reason }) {
  const name = streamName(t, 'bridge-refused-source');
  const source = create(name, { shape: [4] });
  await assert.rejects(Publisher.start({ source, subject, ...settings }), (error) => {
    assert.equal(error.code, 'ERR_BRIDGE_CONNECT');
    assert.match(error.message, reason);
    return true;
  });
  source.close();
  const local = streamName(t, 'bridge-refused-copy');
  const result = await run(process.execPath, [cliPath, 'bridge', 'subscribe', local, '--subject', subject, '--json', ...args]).done;
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, /cannot connect to the NATS server/);
  assert.match(result.stderr, reason);
  assert.deepEqual(leftovers(local), [], 'the refused subscriber created no stream');
}

test('a token: the right one (--token, or in the URL) lets a frame cross; a wrong one is refused', { timeout: TEST_TIMEOUT }, async (t) => {
  const token = 'bridge-token-7f3a';
  const server = await startNatsServer(t, { args: ['--auth', token] });
  const withToken = server.url.replace('//', `//${token}@`);
  const { subject, printed } = await frameCrosses(t, {
    publisherArgs: ['--server', server.url, '--token', token],
    subscriberArgs: ['--server', withToken],
  });
  assert.doesNotMatch(printed, new RegExp(token), 'the token never appears in the output');
  await refused(t, { settings: { server: server.url, token: 'wrong' }, args: ['--server', server.url, '--token', 'wrong'], subject, reason: /authorization violation/i });
});

test('a user and password: --user/--password, or in the URL (percent-encoded); a wrong password is refused', { timeout: TEST_TIMEOUT }, async (t) => {
  const password = 'p@ss:w0rd/x';
  const server = await startNatsServer(t, { config: `authorization {\n  user: bridge\n  password: ${JSON.stringify(password)}\n}\n` });
  const { subject, printed } = await frameCrosses(t, {
    publisherArgs: ['--server', server.url, '--user', 'bridge', '--password', password],
    subscriberArgs: ['--server', server.url.replace('//', `//bridge:${encodeURIComponent(password)}@`)],
  });
  assert.doesNotMatch(printed, /p@ss|p%40ss/, 'the password never appears in the output');
  const wrong = server.url.replace('//', '//bridge:guess@');
  await refused(t, { settings: { server: wrong }, args: ['--server', wrong], subject, reason: /authorization violation/i });
});

test('TLS: the server certificate checked against --tls-ca; without the CA the connection is refused', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = makeTlsFiles(temporaryDirectory(t, 'bridge-tls'));
  const server = await startNatsServer(t, { config: `tls {\n  cert_file: ${JSON.stringify(tls.cert)}\n  key_file: ${JSON.stringify(tls.key)}\n}\n` });
  const tlsUrl = server.url.replace('nats:', 'tls:');
  const { subject } = await frameCrosses(t, {
    publisherArgs: ['--server', server.url, '--tls-ca', tls.ca],
    subscriberArgs: ['--server', tlsUrl, '--tls-ca', tls.ca],
  });
  await refused(t, { settings: { server: tlsUrl }, args: ['--server', tlsUrl], subject, reason: /certificate/i });
});

test('a credentials file (operator mode, signed JWTs): --creds lets a frame cross; a user of an unknown account is refused, a missing file is a clear error', { timeout: TEST_TIMEOUT }, async (t) => {
  const credentials = await makeOperatorCredentials(temporaryDirectory(t, 'bridge-creds'));
  const server = await startNatsServer(t, { config: credentials.config });
  const { subject } = await frameCrosses(t, {
    publisherArgs: ['--server', server.url, '--creds', credentials.creds],
    subscriberArgs: ['--server', server.url, '--creds', credentials.creds],
  });
  const source = create(streamName(t, 'bridge-no-creds'), { shape: [4] });
  await assert.rejects(Publisher.start({ source, server: server.url, creds: `${credentials.creds}.missing` }), { code: 'ERR_BRIDGE_ARGUMENT', message: /cannot read the credentials file/ });
  const stranger = credentials.strangerCreds;
  await refused(t, { settings: { server: server.url, creds: stranger }, args: ['--server', server.url, '--creds', stranger], subject, reason: /authorization violation/i });
});

test('mutual TLS (verify: true): --tls-cert and --tls-key let a frame cross; without a client certificate, or with one from another authority, the server refuses', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = makeTlsFiles(temporaryDirectory(t, 'bridge-mtls'));
  const server = await startNatsServer(t, { config: `tls {\n  cert_file: ${JSON.stringify(tls.cert)}\n  key_file: ${JSON.stringify(tls.key)}\n  ca_file: ${JSON.stringify(tls.ca)}\n  verify: true\n}\n` });
  const tlsUrl = server.url.replace('nats:', 'tls:');
  const clientArgs = ['--tls-ca', tls.ca, '--tls-cert', tls.clientCert, '--tls-key', tls.clientKey];
  const { subject } = await frameCrosses(t, {
    publisherArgs: ['--server', server.url, ...clientArgs],
    subscriberArgs: ['--server', tlsUrl, ...clientArgs],
  });
  const noClientCertificate = /timeout; over TLS this is also how a server that verifies clients .*refuses a missing or untrusted client certificate: pass --tls-cert and --tls-key/;
  await refused(t, { settings: { server: tlsUrl, tlsCa: tls.ca }, args: ['--server', tlsUrl, '--tls-ca', tls.ca], subject, reason: noClientCertificate });
  const stranger = makeTlsFiles(temporaryDirectory(t, 'bridge-mtls-stranger'));
  const source = create(streamName(t, 'bridge-mtls-stranger'), { shape: [4] });
  await assert.rejects(Publisher.start({ source, subject, server: tlsUrl, tlsCa: tls.ca, tlsCert: stranger.clientCert, tlsKey: stranger.clientKey }), {
    code: 'ERR_BRIDGE_CONNECT',
    message: noClientCertificate,
  });
});

test('client certificate files: a certificate without its key (or a key without its certificate), a missing file or a key of another certificate is ERR_BRIDGE_ARGUMENT naming the option, before any connection', { timeout: TEST_TIMEOUT }, async (t) => {
  const tls = makeTlsFiles(temporaryDirectory(t, 'bridge-tls-files'));
  // No server listens there: an argument error comes before any connection attempt.
  const server = `tls://127.0.0.1:${await freePort()}`;
  const source = create(streamName(t, 'bridge-tls-files'), { shape: [4] });
  const start = (files) => Publisher.start({ source, server, tlsCa: tls.ca, ...files });
  const together = /a client certificate and its private key go together: give both tlsCert and tlsKey \(--tls-cert and --tls-key\)/;
  await assert.rejects(start({ tlsCert: tls.clientCert }), { code: 'ERR_BRIDGE_ARGUMENT', message: together });
  await assert.rejects(start({ tlsKey: tls.clientKey }), { code: 'ERR_BRIDGE_ARGUMENT', message: together });
  await assert.rejects(start({ tlsCert: `${tls.clientCert}.missing`, tlsKey: tls.clientKey }), {
    code: 'ERR_BRIDGE_ARGUMENT',
    message: /cannot read the TLS client certificate file .*client\.pem\.missing \(--tls-cert\): ENOENT/,
  });
  await assert.rejects(start({ tlsCert: tls.clientCert, tlsKey: `${tls.clientKey}.missing` }), { code: 'ERR_BRIDGE_ARGUMENT', message: /cannot read the TLS client key file .* \(--tls-key\)/ });
  await assert.rejects(start({ tlsCert: tls.clientCert, tlsKey: tls.key }), { code: 'ERR_BRIDGE_ARGUMENT', message: /are not a PEM certificate and its private key: .*key values mismatch/ });
  await assert.rejects(Publisher.start({ source, server, tlsCa: tls.key }), { code: 'ERR_BRIDGE_ARGUMENT', message: /the certificate authority file .* \(--tls-ca\) is not a PEM certificate/ });
  const local = streamName(t, 'bridge-tls-files-copy');
  const result = await run(process.execPath, [cliPath, 'bridge', 'subscribe', local, '--server', server, '--tls-cert', tls.clientCert, '--json']).done;
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, together);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'a message, not a stack');
  assert.deepEqual(leftovers(local), [], 'the subscriber created no stream');
});
