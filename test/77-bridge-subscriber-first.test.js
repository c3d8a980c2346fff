// A lossless subscriber started before its publisher (issue 14, item 4):
// it says it is waiting for the publisher, creates nothing, and once the
// publisher's JetStream stream appears (even with frames in it already) it
// takes every frame from the first into a stream of the publisher's shape,
// on another "host" (its own /dev/shm: test/bridge-helpers.js). The server's
// announcement of the new stream wakes it, not its periodic look.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { defaultSubject, Publisher, Subscriber } from '../packages/tsshmem-nats/dist/index.js';
import { streamName } from './helpers.js';
import { remoteDigest, sha256, startBridge, startNatsServer, startRemoteBridge } from './bridge-helpers.js';

const TEST_TIMEOUT = 60000;
const started = (record) => record.event === 'started';
const startedWaiting = (record) => record.event === 'started' && record.waitingForPublisher === true;

test('lossless: a subscriber started first waits for the publisher, then receives every frame from the first', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-first');
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url, '--lossless']);
  await remote.bridge.next(startedWaiting, 'the subscriber started, waiting for the publisher');
  const idle = await remote.bridge.status((status) => status.waitingForPublisher, 'a status line while waiting');
  assert.deepEqual([idle.frames, idle.connected], [0, true]);
  assert.equal(remote.bridge.records.find((record) => record.event === 'stream'), undefined, 'no local stream before the first frame');

  // Paused until all six frames are on the server, so that it finds the stream late, with frames in it.
  remote.bridge.child.kill('SIGSTOP');
  const source = create(name, { shape: [3, 500], dtype: 'int32' });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url, '--lossless']);
  await publisher.next(started, 'the publisher started');
  const frames = [];
  for (let frame = 1; frame <= 6; frame++) {
    frames.push(Int32Array.from({ length: 1500 }, (_, index) => frame * 100000 + index));
    source.write(frames.at(-1));
    await publisher.status((status) => status.frames === frame, `frame ${frame} published`);
  }
  remote.bridge.child.kill('SIGCONT');
  const received = await remote.bridge.status((status) => status.frames === 6, 'the six frames written remotely');
  assert.deepEqual([received.dropped, received.waitingForPublisher], [0, false]);
  const created = remote.bridge.records.find((record) => record.event === 'stream');
  assert.deepEqual([created.shape, created.dtype], [[3, 500], 'int32']);
  const digest = await remoteDigest(remote, name);
  assert.deepEqual([digest.count, digest.sha256], [6, sha256(frames.at(-1))], 'each frame written once, the last one last');
});

test('lossless: a waiting subscriber stops cleanly on SIGINT, and fails clearly if a latest-value publisher takes the subject', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-first-mode');
  const stopped = startBridge(t, 'subscribe', [streamName(t, 'bridge-first-stop'), '--server', server.url, '--subject', 'tsshmem.first-stop', '--lossless']);
  await stopped.next(startedWaiting, 'the first subscriber waiting');
  stopped.child.kill('SIGINT');
  const stop = await stopped.done;
  assert.equal(stop.code, 0, stop.stderr);
  assert.ok(stopped.records.some((record) => record.event === 'stopped'));

  const subscriber = startBridge(t, 'subscribe', [streamName(t, 'bridge-first-copy'), '--server', server.url, '--subject', 'tsshmem.first-mode', '--lossless']);
  await subscriber.next(startedWaiting, 'the second subscriber waiting');
  create(name, { shape: [4] });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url, '--subject', 'tsshmem.first-mode']);
  await publisher.next(started, 'the latest-value publisher started');
  const result = await subscriber.done;
  assert.equal(result.code, 1);
  assert.match(result.stderr, /carries a latest-value bridge: drop --lossless/);
});

/**
 * A lossless subscriber in this process, started before its publisher, and
 * a promise of its first frame (the local stream is created, and the frame
 * written, at the first frame).
 */
async function waitingSubscriber(t, { name, server, ...options }) {
  const copy = streamName(t, 'bridge-waiting-copy');
  let streamCreated;
  const firstFrame = new Promise((resolve) => (streamCreated = resolve));
  const subscriber = await Subscriber.start({
    stream: copy,
    subject: defaultSubject(name),
    server,
    lossless: true,
    onEvent: (event) => event.event === 'stream' && streamCreated(),
    ...options,
  });
  t.after(() => subscriber.close());
  assert.equal(subscriber.status().waitingForPublisher, true);
  return { subscriber, copy, firstFrame };
}

/** A lossless publisher of a new stream `name`; resolves with the frame it wrote. */
async function publishOneFrame(t, name, args) {
  const source = create(name, { shape: [2, 8], dtype: 'float64' });
  const publisher = startBridge(t, 'publish', [name, '--lossless', ...args]);
  await publisher.next(started, 'the publisher started');
  const frame = Float64Array.from({ length: 16 }, (_, index) => index / 3);
  source.write(frame);
  return frame;
}

/**
 * The subscriber's first frame is `frame`. Its after hook closes it once the
 * server was killed, while its client reconnects (test/78 is the test of that).
 */
async function assertFirstFrame(t, { subscriber, copy, firstFrame }, frame) {
  await firstFrame;
  assert.deepEqual([subscriber.status().frames, subscriber.status().waitingForPublisher], [1, false]);
  const local = open(copy);
  t.after(() => local.close());
  assert.deepEqual(local.read(), frame);
}

test('publisherCheckInterval and keepInterval outside 0 < ms <= 2^31-1 (Node\'s longest timer) are ERR_BRIDGE_ARGUMENT stating the range, before any connection', { timeout: TEST_TIMEOUT }, async (t) => {
  // Nothing listens on port 1: a check made after connecting would fail with ERR_BRIDGE_CONNECT instead.
  const server = 'nats://127.0.0.1:1';
  const name = streamName(t, 'bridge-timer-options');
  const source = create(name, { shape: [4] });
  t.after(() => source.close());
  const range = (option, value) => new RegExp(`^${option} must be milliseconds above 0 and at most 2147483647 \\(2\\^31 - 1, Node's longest timer\\), got ${value}$`);
  for (const value of [0, -1, Number.NaN, 2 ** 31, Infinity]) {
    const stream = streamName(t, 'bridge-timer-subscriber');
    await assert.rejects(Subscriber.start({ stream, server, lossless: true, publisherCheckInterval: value }), { code: 'ERR_BRIDGE_ARGUMENT', message: range('publisherCheckInterval', value) });
    assert.throws(() => open(stream), { code: 'ENOENT' }, 'the subscriber created nothing');
    await assert.rejects(Publisher.start({ source, server, keepInterval: value }), { code: 'ERR_BRIDGE_ARGUMENT', message: range('keepInterval', value) });
  }
});

test('lossless: the server announcing the publisher\'s stream wakes a waiting subscriber, which then takes the first frame (its periodic look set to 10 minutes)', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-announced');
  const waiting = await waitingSubscriber(t, { name, server: server.url, publisherCheckInterval: 10 * 60 * 1000 });
  const frame = await publishOneFrame(t, name, ['--server', server.url]);
  await assertFirstFrame(t, waiting, frame);
});

test('lossless: a subscriber whose user may not hear the announcement ($JS.EVENT.> denied) finds the publisher\'s stream by its periodic look', { timeout: TEST_TIMEOUT }, async (t) => {
  const users = [
    '{ user: deaf, password: deaf, permissions: { subscribe: { deny: "$JS.EVENT.>" } } }',
    '{ user: publisher, password: publisher }',
  ];
  const server = await startNatsServer(t, { config: `authorization { users: [\n  ${users.join(',\n  ')}\n] }\n` });
  const name = streamName(t, 'bridge-unannounced');
  const waiting = await waitingSubscriber(t, { name, server: server.url, user: 'deaf', password: 'deaf', publisherCheckInterval: 100 });
  const frame = await publishOneFrame(t, name, ['--server', server.url, '--user', 'publisher', '--password', 'publisher']);
  await assertFirstFrame(t, waiting, frame);
});
