// A stream's metadata or data object truncated by another process while a
// handle uses it: touching a page past the new end raises SIGBUS, which must
// never end the process. Every property and method either returns or throws
// ERR_INVALID_STREAM naming the stream and saying what happened.
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { test } from 'node:test';

import { create, ShmError } from '../packages/tsshmem/dist/index.js';
import { dataPath, metaPath, track } from './fault-helpers.js';
import { runNodePeer, streamName } from './helpers.js';

/** The calls that read the metadata: once it is gone, each must throw. */
const METADATA_CALLS = ['count', 'writeTime', 'writeSequence', 'lastReadCount', 'write', 'next', 'clear', 'readNewSync', 'read', 'read({ out })', 'lockInfo', 'lock()', 'repair'];
/** The calls that touch the payload: once the data object is gone, each must throw. */
const DATA_CALLS = ['write', 'clear', 'read', 'read({ out })', 'read({ allowInterrupted })', 'next', 'readNewSync', 'acquireSync, read({ safe: false }), release'];

async function truncateUnderVictim(t, object) {
  const name = streamName(t, `lost-${object}`);
  const stream = create(name, { shape: [512, 512], dtype: 'float32' });
  t.after(() => stream.close());
  stream.write(new Float32Array(512 * 512).fill(1));
  const victim = track(t, runNodePeer('lost-mapping-victim.js', { name }, { timeout: 90000 }));
  await victim.lines.waitFor('looping', 30000);
  truncateSync(object === 'metadata' ? metaPath(name) : dataPath(name), 0);
  const exit = await victim.done;
  assert.equal(exit.signal, null, `the victim died of ${exit.signal}: ${exit.stderr}`);
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  const report = JSON.parse(exit.stdout.trim().split('\n').at(-1));
  t.diagnostic(`informal: after the truncation ${JSON.stringify(report.outcomes)}`);
  for (const [call, outcome] of Object.entries(report.outcomes)) {
    assert.ok(outcome === 'ok' || outcome === 'ERR_INVALID_STREAM', `${call} gave ${outcome}: ${report.messages[outcome]}`);
  }
  for (const outcome of Object.values(report.firstFailures)) {
    assert.ok(outcome === 'ok' || outcome === 'ERR_INVALID_STREAM', `during the truncation a call gave ${outcome}: ${report.messages[outcome]}`);
  }
  const message = report.messages.ERR_INVALID_STREAM;
  assert.ok(message.includes(JSON.stringify(name)), message);
  return { name, stream, report, message };
}

test('a metadata object truncated by another process while a child loops over every property and method: each returns or throws ERR_INVALID_STREAM, and the child exits normally', { timeout: 120000 }, async (t) => {
  const { stream, report, message } = await truncateUnderVictim(t, 'metadata');
  assert.match(message, /metadata object of stream .* was truncated by another process after this handle opened it/);
  for (const call of METADATA_CALLS) assert.equal(report.outcomes[call], 'ERR_INVALID_STREAM', `${call} after the metadata is gone`);
  assert.equal(report.outcomes.closed, 'ok');

  // This process survives the same through its own handle, and can close it.
  assert.throws(() => stream.count, (error) => error instanceof ShmError && error.code === 'ERR_INVALID_STREAM' && /metadata object/.test(error.message));
  assert.throws(() => stream.write(new Float32Array(512 * 512)), { code: 'ERR_INVALID_STREAM' });
  await assert.rejects(stream.next({ timeout: 1000 }), { code: 'ERR_INVALID_STREAM' });
  assert.throws(() => stream.lockInfo(), { code: 'ERR_INVALID_STREAM' });
  stream.close();
  assert.equal(stream.closed, true);
});

test('a data object truncated by another process while a child loops over every property and method: each returns or throws ERR_INVALID_STREAM, the live view reads zeros, and the child exits normally', { timeout: 120000 }, async (t) => {
  const { stream, report, message } = await truncateUnderVictim(t, 'data');
  assert.match(message, /data segment of stream .* was truncated by another process after this handle opened it/);
  for (const call of DATA_CALLS) assert.equal(report.outcomes[call], 'ERR_INVALID_STREAM', `${call} after the data is gone`);
  for (const call of ['count', 'writeSequence', 'lockInfo', 'closed']) assert.equal(report.outcomes[call], 'ok', `${call} reads the intact metadata`);

  // This process has not touched the payload since: its live view still
  // comes, and reading it past the new end reads the guard's zeros instead
  // of raising SIGBUS; after that the handle knows the payload is gone.
  const held = stream.lock();
  try {
    const view = stream.read({ safe: false });
    assert.equal(view[view.length - 1], 0);
    assert.throws(() => stream.read({ safe: false }), { code: 'ERR_INVALID_STREAM' });
  } finally {
    held.release();
  }
  assert.throws(() => stream.read(), { code: 'ERR_INVALID_STREAM' });
  await assert.rejects(stream.next({ timeout: 1000 }), { code: 'ERR_INVALID_STREAM' });
  assert.equal(stream.writeSequence % 2, 0);
});
