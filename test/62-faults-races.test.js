// Races between processes: two creators of one name, and openers racing a
// creator that is still at work.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { create, open, ShmError, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';
import { dataPath, rawField, track } from './fault-helpers.js';
import { leftovers, runNodePeer, runPythonPeer, streamName } from './helpers.js';

const ROUNDS = 50;
// Rounds of the opener race run until this many caught the creator midway
// (most do on idle cores, a few in a hundred on a loaded machine), or up to
// OPEN_ROUNDS.
const OPEN_ROUNDS = 1000;
const HALF_MADE_ENOUGH = 3;

/** A file path that does not exist yet, in a temporary directory removed after the test. */
function goFile(t) {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-race-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  let n = 0;
  return () => join(directory, `go-${++n}`);
}

function parse(exit) {
  assert.equal(exit.code, 0, `peer failed: ${exit.signal} ${exit.stderr}`);
  return JSON.parse(exit.stdout.trim().split('\n').at(-1));
}

test(`two processes create() one name at the same instant, ${ROUNDS} rounds: exactly one wins, the other gets EEXIST, no half-created objects`, async (t) => {
  const shapes = [
    { shape: [3, 5], dtype: 'float32' },
    { shape: [7], dtype: 'int16' },
  ];
  const winners = [0, 0];
  const nextGo = goFile(t);
  for (let round = 0; round < ROUNDS; round++) {
    const name = streamName(t, `create-race-${round}`);
    // Both children busy-wait for the same file, each on its own core.
    const go = nextGo();
    const racers = shapes.map((spec) => track(t, runNodePeer('race_peer.js', { role: 'create', name, go, ...spec }, { timeout: 60000 })));
    await Promise.all(racers.map((racer) => racer.lines.waitFor('ready', 30000)));
    writeFileSync(go, '');
    const results = (await Promise.all(racers.map((racer) => racer.done))).map(parse);
    const won = results.filter((result) => result.created);
    assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
    const winner = results.indexOf(won[0]);
    winners[winner]++;
    const loser = results[1 - winner];
    assert.equal(loser.errorName, 'ShmError', JSON.stringify(loser));
    assert.equal(loser.code, 'EEXIST', JSON.stringify(loser));
    assert.match(loser.message, /already exists/);
    // The loser opened the stream at once, while the winner may still have been creating it.
    assert.equal(loser.open.ok, true, `round ${round}: the loser's open() failed: ${JSON.stringify(loser.open)}`);
    assert.deepEqual(loser.open.shape, shapes[winner].shape);
    assert.equal(loser.open.dtype, shapes[winner].dtype);
    // What is left is the winner's complete stream, and nothing else.
    const base = baseName(name);
    assert.deepEqual(leftovers(name).sort(), [base, `${base}_meta`, lockPath(name)].sort());
    assert.equal(statSync(dataPath(name)).size, shapes[winner].shape.reduce((a, b) => a * b, shapes[winner].dtype === 'float32' ? 4 : 2));
    assert.equal(rawField(name, 0), 2);
    const stream = open(name);
    assert.deepEqual(stream.shape, shapes[winner].shape);
    stream.unlink();
    assert.deepEqual(leftovers(name), []);
  }
  // A real race: each racer won some rounds (not one that always starts first).
  assert.ok(winners.every((wins) => wins > 0), `winners by racer: ${winners.join(' / ')}`);
  t.diagnostic(`winners by racer: ${winners.join(' / ')}`);
});

test('create() over a stale data object left by a crashed creator: EEXIST, and it removes the metadata object it made', (t) => {
  const name = streamName(t, 'stale-data');
  writeFileSync(dataPath(name), Buffer.alloc(16), { mode: 0o600 });
  assert.throws(
    () => create(name, { shape: [4], dtype: 'float32' }),
    (error) => error instanceof ShmError && error.code === 'EEXIST',
  );
  assert.deepEqual(leftovers(name), [baseName(name)], 'only the stale data object remains');
  // unlink() clears the way.
  assert.equal(unlink(name), true);
  const stream = create(name, { shape: [4], dtype: 'float32' });
  stream.close();
});

/** The JSON line a rounds peer prints for round. */
async function roundReport(peer, round) {
  return JSON.parse(await peer.lines.waitFor(new RegExp(`^\\{"round":${round},`), 30000));
}

test(`an opener racing a Node creator, until ${HALF_MADE_ENOUGH} rounds catch it half-made (at most ${OPEN_ROUNDS}): open() waits for the stream and never reports it corrupt`, async (t) => {
  const names = Array.from({ length: OPEN_ROUNDS }, (_, round) => streamName(t, `open-race-${round}`));
  // Two long-lived peers, so that a round costs milliseconds, not process starts.
  const opener = track(t, runNodePeer('race_peer.js', { role: 'open-rounds', names, timeout: 30000 }, { timeout: 300000 }));
  const go = goFile(t)();
  const creator = track(t, runNodePeer('race_peer.js', { role: 'create-rounds', names, shape: [64, 64], dtype: 'uint16', go }, { timeout: 300000 }));
  const halfSeen = { metaShort: 0, versionZero: 0, noData: 0 };
  let roundsRetried = 0;
  let rounds = 0;
  for (let round = 0; round < OPEN_ROUNDS && roundsRetried < HALF_MADE_ENOUGH; round++, rounds++) {
    // The opener busy-polls for the metadata object, the creator for its go file: both on a core when it starts.
    opener.child.stdin.write(`${round}\n`);
    creator.child.stdin.write(`${round}\n`);
    await Promise.all([opener.lines.waitFor(`polling ${round}`, 30000), creator.lines.waitFor(`ready ${round}`, 30000)]);
    writeFileSync(`${go}-${round}`, '');
    const created = await roundReport(creator, round);
    const opened = await roundReport(opener, round);
    assert.equal(created.created, true, JSON.stringify(created));
    assert.equal(opened.ok, true, `round ${round}: open() failed on a stream being created: ${JSON.stringify(opened)}`);
    assert.deepEqual(opened.shape, [64, 64]);
    assert.equal(opened.dtype, 'uint16');
    if (opened.retries > 0) roundsRetried++;
    if (opened.seen.metaBytes < 256) halfSeen.metaShort++;
    if (opened.seen.version === 0) halfSeen.versionZero++;
    if (!opened.seen.dataExists) halfSeen.noData++;
    unlink(names[round]);
  }
  opener.child.stdin.end();
  creator.child.stdin.end();
  for (const peer of [opener, creator]) assert.equal((await peer.done).code, 0);
  const caught = `open() found the stream half-made and retried in ${roundsRetried} of ${rounds} rounds; when the metadata object appeared the opener saw it under 256 bytes ${halfSeen.metaShort}, at version 0 ${halfSeen.versionZero}, without a data object ${halfSeen.noData} times`;
  // Without rounds that caught the creator midway, this test would prove nothing.
  assert.equal(roundsRetried, HALF_MADE_ENOUGH, caught);
  // How tight the race ran on this machine, for whoever tunes the bounds above.
  t.diagnostic(caught);
});

for (const stage of ['truncated', 'version']) {
  test(`an opener racing a slow pyshmem creator paused at "${stage}": open() waits for it and succeeds`, async (t) => {
    const name = streamName(t, `slow-${stage}`);
    const creator = track(t, runPythonPeer('create-slowly', { name, shape: [5, 6], dtype: 'float64', pause_ms: 800, stage }, { timeout: 60000 }));
    await creator.lines.waitFor('paused', 30000);
    // The metadata object is there, half-written: all zeros, or version 2 and nothing else.
    assert.equal(rawField(name, 0), stage === 'truncated' ? 0 : 2);
    assert.equal(rawField(name, 3), 0, 'ndim not written yet');
    const started = performance.now();
    const stream = open(name);
    const elapsed = performance.now() - started;
    t.after(() => stream.close());
    assert.deepEqual(stream.shape, [5, 6]);
    assert.equal(stream.dtype, 'float64');
    assert.ok(elapsed < 1000 + 5000, `open() returned after ${elapsed} ms`);
    assert.equal((await creator.done).code, 0);
    // For the closing note: the wait asserted above is bounded, not measured.
    t.diagnostic(`open() waited ${elapsed.toFixed(0)} ms for the creator`);
  });
}

test('an opener racing a creator slower than the settle window: ERR_INVALID_STREAM after about 1 s (bounded), then opens once it is done', async (t) => {
  const name = streamName(t, 'slower');
  const creator = track(t, runPythonPeer('create-slowly', { name, shape: [3], dtype: 'int32', pause_ms: 5000, stage: 'version' }, { timeout: 60000 }));
  await creator.lines.waitFor('paused', 30000);
  const started = performance.now();
  let error;
  try {
    open(name).close();
  } catch (caught) {
    error = caught;
  }
  const elapsed = performance.now() - started;
  assert.ok(error instanceof ShmError, `open() of a half-written block must fail after its settle window, got ${error}`);
  assert.equal(error.code, 'ERR_INVALID_STREAM');
  assert.match(error.message, /ndim 0 is not an integer from 1 to 19/);
  assert.ok(elapsed >= 950 && elapsed < 1000 + 5000, `open() gave up after ${elapsed} ms`);
  await creator.lines.waitFor('created', 30000);
  const stream = open(name);
  assert.deepEqual(stream.shape, [3]);
  stream.close();
  assert.equal((await creator.done).code, 0);
});
