// The NATS bridge (packages/tsshmem-nats, `tsshmem bridge`): a real
// nats-server on loopback; the subscriber runs as a second host (its own
// mount namespace, /dev/shm and lock directory: test/bridge-helpers.js), so
// a frame reaches it only through NATS.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { connect, headers } from '@nats-io/transport-node';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { leftovers, peersDirectory, run, streamName } from './helpers.js';
import { cliPath, remoteDigest, sha256, startBridge, startNatsServer, startRemoteBridge } from './bridge-helpers.js';

const TEST_TIMEOUT = 60000;

const started = (record) => record.event === 'started';

test('frames published on one host arrive in a stream on another, where pyshmem reads them', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-plain');
  const source = create(name, { shape: [32, 32], dtype: 'int16' });
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url]);
  await remote.bridge.next(started, 'the subscriber started');
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  const first = await publisher.next(started, 'the publisher started');
  assert.equal(first.subject, remote.bridge.records[0].subject, 'both sides derive the same subject from the stream name');
  for (let frame = 1; frame <= 3; frame++) {
    source.write(new Int16Array(32 * 32).fill(frame));
    await remote.bridge.status((status) => status.frames >= frame, `frame ${frame} written remotely`);
  }
  const created = remote.bridge.records.find((record) => record.event === 'stream');
  assert.deepEqual([created.created, created.shape, created.dtype], [true, [32, 32], 'int16']);

  const read = await remote.run('python3', [join(peersDirectory, 'pyshmem_peer.py'), 'read-summary', JSON.stringify({ name })]);
  assert.equal(read.code, 0, read.stderr);
  const summary = JSON.parse(read.stdout);
  assert.deepEqual([summary.count, summary.min, summary.max, summary.uniform], [3, 3, 3, true]);
  assert.equal(source.count, 3, 'the subscriber wrote into its own /dev/shm, not into the source');

  publisher.child.kill('SIGINT');
  remote.bridge.child.kill('SIGTERM');
  const [published, subscribed] = await Promise.all([publisher.done, remote.bridge.done]);
  assert.deepEqual([published.code, subscribed.code], [0, 0], `${published.stderr}${subscribed.stderr}`);
  const stopped = publisher.records.find((record) => record.event === 'stopped');
  assert.deepEqual([stopped.frames, stopped.skipped, stopped.lost], [3, 0, 0]);
});

test('a subscriber that joins late gets the last frame at once, from the server', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-late');
  const source = create(name, { shape: [1000], dtype: 'float64' });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  await publisher.next(started, 'the publisher started');
  const frame = Float64Array.from({ length: 1000 }, (_, index) => index / 7);
  source.write(frame);
  await publisher.status((status) => status.frames === 1, 'the frame published');
  // The frame went out kept or volatile; a quiet source gets its last frame kept within the keep interval.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url]);
  await remote.bridge.next(started, 'the subscriber started');
  await remote.bridge.status((status) => status.frames === 1, 'the kept frame written');
  assert.equal((await remoteDigest(remote, name)).sha256, sha256(frame));
});

test('a 40 MiB frame crosses in chunks and arrives intact (sha256)', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-large');
  const elements = 10 * 2 ** 20;
  const source = create(name, { shape: [elements], dtype: 'float32' });
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url]);
  await remote.bridge.next(started, 'the subscriber started');
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  await publisher.next(started, 'the publisher started');
  const frame = new Float32Array(elements);
  for (let index = 0; index < elements; index++) frame[index] = (index * 2654435761) % 1000003;
  source.write(frame);
  await remote.bridge.status((status) => status.frames === 1, 'the large frame written remotely');
  const digest = await remoteDigest(remote, name);
  assert.deepEqual([digest.count, digest.sha256], [1, sha256(frame)]);
});

test('a frame with a missing chunk is dropped and counted, garbage is counted and skipped, nothing torn is written', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-garbage');
  const subject = 'tsshmem.garbage-test';
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url, '--subject', subject]);
  await remote.bridge.next(started, 'the subscriber started');
  const connection = await connect({ servers: server.url });
  t.after(() => connection.close());
  const chunk = (sequence, index, fill) => {
    const header = headers();
    const fields = { Bridge: '1', Frame: `abc123/${sequence}`, Count: String(sequence), Time: String(Date.now() / 1000), Shape: '6', Dtype: 'uint8', Chunk: `${index}/3`, Bytes: '6' };
    for (const [field, value] of Object.entries(fields)) header.set(`Tsshmem-${field}`, value);
    connection.publish(`${subject}.v.${index}`, new Uint8Array(2).fill(fill), { headers: header });
  };
  chunk(1, 0, 1);
  chunk(1, 1, 1);
  chunk(1, 2, 1); // frame 1: complete
  chunk(2, 0, 2);
  chunk(2, 2, 2); // frame 2: chunk 1 never comes
  connection.publish(`${subject}.v.0`, new Uint8Array(6).fill(9)); // no header
  connection.publish(`${subject}.v.1`, new Uint8Array(6).fill(9), { headers: headers() }); // header of another protocol
  connection.publish(`${subject}.nonsense`, new Uint8Array(6).fill(9));
  chunk(3, 0, 3);
  chunk(3, 1, 3);
  chunk(3, 2, 3); // frame 3: complete
  await connection.flush();
  const status = await remote.bridge.status((record) => record.frames === 2 && record.rejected === 3, 'two frames written, three messages rejected');
  assert.deepEqual([status.dropped, status.incomplete], [1, 1]);
  const digest = await remoteDigest(remote, name);
  assert.equal(digest.count, 2);
  assert.equal(digest.sha256, sha256(new Uint8Array(6).fill(3)));
});

test('a local stream of another shape is a clear error and is left as it was', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-source');
  const local = streamName(t, 'bridge-mismatch');
  const source = create(name, { shape: [8, 8], dtype: 'float32' });
  source.write(new Float32Array(64).fill(5));
  const existing = create(local, { shape: [4], dtype: 'float32' });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  const { subject } = await publisher.next(started, 'the publisher started');
  await publisher.status((status) => status.frames === 1, 'the frame published');
  const subscriber = startBridge(t, 'subscribe', [local, '--server', server.url, '--subject', subject]);
  const result = await subscriber.done;
  assert.equal(result.code, 1);
  assert.match(result.stderr, /is 4 float32 but the publisher on tsshmem\.\S+ sends 8x8 float32/);
  assert.equal(existing.count, 0, 'nothing was written into the mismatched stream');
});

test('an unknown server is a clear error; a URL that is not a NATS URL too', { timeout: TEST_TIMEOUT }, async (t) => {
  const name = streamName(t, 'bridge-unknown');
  create(name, { shape: [4] });
  const unreachable = await run(process.execPath, [cliPath, 'bridge', 'publish', name, '--server', 'nats://127.0.0.1:1']).done;
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot connect to the NATS server nats:\/\/127\.0\.0\.1:1/);
  const wrongScheme = await run(process.execPath, [cliPath, 'bridge', 'subscribe', name, '--server', 'http://user:secret@example.org']).done;
  assert.equal(wrongScheme.code, 1);
  assert.match(wrongScheme.stderr, /is not a NATS URL/);
  assert.doesNotMatch(wrongScheme.stderr, /secret/, 'credentials never appear in messages');
});

test('a server restart: both sides reconnect and go on, the subscriber keeps its last frame meanwhile', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-restart');
  const source = create(name, { shape: [256], dtype: 'uint32' });
  const remote = startRemoteBridge(t, 'subscribe', [name, '--server', server.url]);
  await remote.bridge.next(started, 'the subscriber started');
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  await publisher.next(started, 'the publisher started');
  let value = 0;
  const writer = setInterval(() => source.write(new Uint32Array(256).fill(++value)), 10);
  t.after(() => clearInterval(writer));
  await remote.bridge.status((status) => status.frames >= 5, 'frames flowing');

  await server.stop();
  await remote.bridge.status((status) => !status.connected, 'the subscriber saw the server go');
  const during = await remoteDigest(remote, name);
  assert.ok(during.count >= 5 && during.first >= 1, 'the stream keeps its last frame while the server is away');

  await server.start();
  const after = await remote.bridge.status((status) => status.connected && status.reconnects >= 1 && status.frames >= during.count + 5, 'frames flowing after the restart');
  const publishing = await publisher.status((status) => status.reconnects >= 1 && status.connected, 'the publisher reconnected');
  clearInterval(writer);
  assert.ok(publishing.skipped > 0, 'frames written while the server was away are counted as skipped');
  assert.ok(after.dropped >= 0 && Number.isInteger(after.dropped));
  const latest = await remoteDigest(remote, name);
  assert.ok(latest.first > during.first, 'newer frames arrived after the restart');
  assert.equal(publisher.child.exitCode, null, 'the publisher still runs');
  assert.equal(remote.bridge.child.exitCode, null, 'the subscriber still runs');
});

test('lossless: a subscriber resumes where it stopped and counts exactly what fell out of retention', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-lossless');
  const local = streamName(t, 'bridge-lossless-copy');
  const source = create(name, { shape: [4096], dtype: 'float32' });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url, '--lossless', '--retention-frames', '5']);
  const { subject } = await publisher.next(started, 'the publisher started');
  const subscriberArgs = [local, '--server', server.url, '--subject', subject, '--lossless', '--durable', 'lossless-test'];
  let subscriber = startBridge(t, 'subscribe', subscriberArgs);
  await subscriber.next(started, 'the subscriber started');
  const publish = async (frame) => {
    source.write(new Float32Array(4096).fill(frame));
    await publisher.status((status) => status.frames === frame, `frame ${frame} published`);
  };
  for (let frame = 1; frame <= 3; frame++) {
    await publish(frame);
    await subscriber.status((status) => status.frames === frame, `frame ${frame} received`);
  }
  subscriber.child.kill('SIGTERM');
  assert.equal((await subscriber.done).code, 0);

  for (let frame = 4; frame <= 13; frame++) await publish(frame); // 4..8 fall out of a 5-frame retention
  subscriber = startBridge(t, 'subscribe', subscriberArgs);
  const resumed = await subscriber.status((status) => status.frames === 5, 'the 5 retained frames received');
  assert.equal(resumed.dropped, 5, 'frames 4 to 8 fell out of retention');
  const copy = open(local);
  t.after(() => copy.close());
  assert.deepEqual([copy.count, copy.read()[0]], [8, 13]);
});

test('a publisher and a subscriber killed with SIGKILL leave nothing behind but their streams', { timeout: TEST_TIMEOUT }, async (t) => {
  const server = await startNatsServer(t);
  const name = streamName(t, 'bridge-kill');
  const local = streamName(t, 'bridge-kill-copy');
  const source = create(name, { shape: [16] });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url]);
  const { subject } = await publisher.next(started, 'the publisher started');
  const subscriber = startBridge(t, 'subscribe', [local, '--server', server.url, '--subject', subject]);
  await subscriber.next(started, 'the subscriber started');
  source.write(new Float32Array(16).fill(1));
  await subscriber.status((status) => status.frames === 1, 'a frame received');
  publisher.child.kill('SIGKILL');
  subscriber.child.kill('SIGKILL');
  await Promise.all([publisher.done, subscriber.done]);
  assert.equal(leftovers(name).length, 3, 'the source stream: data, metadata and lock file');
  assert.equal(leftovers(local).length, 3, 'the subscriber stream: data, metadata and lock file');
  const copy = open(local);
  t.after(() => copy.close());
  assert.deepEqual([copy.count, copy.read()[0]], [1, 1]);
});
