// Load and leaks: writer and reader processes hammering one stream, every
// frame self-checking (a constant fill), and open/close cycles watched for
// descriptors, mappings and memory. scripts/soak.js runs the same for longer.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { create } from '../packages/tsshmem/dist/index.js';
import { FRAME_SHAPE, leakProblems, mib, runLeak, runStress } from '../scripts/soak.js';
import { track } from './fault-helpers.js';
import { leftovers, run, runNodePeer, runPythonPeer, streamName } from './helpers.js';

const SOAK = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'soak.js');
const FRAME = 1e9;

function frameStream(t, label) {
  const name = streamName(t, label);
  const stream = create(name, { shape: FRAME_SHAPE, dtype: 'float64' });
  t.after(() => stream.close());
  return { name, stream };
}

function assertUniform(array) {
  for (let i = 1; i < array.length; i++) if (array[i] !== array[0]) assert.fail(`element ${i} is ${array[i]}, element 0 is ${array[0]}`);
}

test('3 writer and 3 reader processes on one stream for 3 s: no torn snapshot, nothing out of order, the count is the total of writes', async (t) => {
  const { name, stream } = frameStream(t, 'stress');
  const result = await runStress({ name, seconds: 3, writers: 3, readers: 3 });
  const writers = result.reports.filter((r) => r.role === 'writer');
  const readers = result.reports.filter((r) => r.role === 'reader');
  // The load behind the checks below (each writer wrote, each reader read), for the closing note.
  t.diagnostic(`writes ${writers.map((r) => r.writes).join(' + ')} = ${result.writes}; reads ${readers.map((r) => r.reads).join(' + ')} = ${result.reads}`);
  assert.deepEqual(result.errors, []);
  assert.equal(result.torn, 0, 'torn snapshots');
  assert.equal(result.frameRegressions, 0, "a writer's frames seen out of order");
  assert.equal(result.countRegressions, 0, 'counts seen going backwards');
  for (const report of writers) assert.ok(report.writes > 0, `writer ${report.id} wrote nothing`);
  for (const report of readers) assert.ok(report.reads > 0, `reader ${report.id} read nothing`);
  assert.equal(stream.count, result.writes, 'the final count equals the total of writes');
  // The last frame is complete and is the last frame of one of the writers.
  const last = stream.read();
  assertUniform(last);
  const writerId = Math.floor(last[0] / FRAME);
  const writer = writers.find((r) => r.id === writerId);
  assert.ok(writer !== undefined, `the last frame ${last[0]} is from no writer`);
  assert.equal(last[0] % FRAME, writer.writes, `the last frame is writer ${writerId}'s last`);
  assert.equal(stream.writeSequence % 2, 0);
});

test('mixed load: 2 Node writers and a pyshmem writer, 2 Node readers and a pyshmem reader: no torn snapshot on either side, the count adds up', async (t) => {
  const { name, stream } = frameStream(t, 'stress-mixed');
  const goDirectory = mkdtempSync(join(tmpdir(), 'tsshmem-stress-'));
  t.after(() => rmSync(goDirectory, { recursive: true, force: true }));
  const go = join(goDirectory, 'go');
  const seconds = 3;
  const node = [
    ...[1, 2].map((id) => track(t, runNodePeer('stress_peer.js', { role: 'writer', id, name, seconds, go }, { timeout: 120000 }))),
    ...[1, 2].map((id) => track(t, runNodePeer('stress_peer.js', { role: 'reader', id, name, seconds, go, mode: 'read' }, { timeout: 120000 }))),
  ];
  const pythonReader = track(t, runPythonPeer('safe-read-loop', { name, seconds, go }, { timeout: 120000 }));
  await Promise.all([...node, pythonReader].map((peer) => peer.lines.waitFor('ready', 60000)));
  const pythonWrites = 3000;
  const python = [track(t, runPythonPeer('write-loop', { name, count: pythonWrites, interval_ms: 0 }, { timeout: 120000 })), pythonReader];
  writeFileSync(go, '');
  const exits = await Promise.all([...node, ...python].map((peer) => peer.done));
  for (const exit of exits) assert.equal(exit.code, 0, `a peer failed: ${exit.signal} ${exit.stderr}`);
  const reports = exits.slice(0, 4).map((exit) => JSON.parse(exit.stdout.trim().split('\n').at(-1)));
  const pythonRead = JSON.parse(exits[5].stdout.trim().split('\n').at(-1));
  const nodeWrites = reports.filter((r) => r.role === 'writer').reduce((sum, r) => sum + r.writes, 0);
  for (const report of reports) assert.deepEqual(report.errors, {}, `${report.role} ${report.id}`);
  for (const report of reports.filter((r) => r.role === 'reader')) {
    assert.equal(report.torn, 0, `Node reader ${report.id}: torn snapshots`);
    assert.equal(report.frameRegressions, 0);
    assert.equal(report.countRegressions, 0);
  }
  assert.equal(pythonRead.torn, 0, `the pyshmem reader saw torn snapshots: ${JSON.stringify(pythonRead)}`);
  // It read while the writers wrote: it saw the frame change, again and again.
  assert.ok(pythonRead.changes > 1, `the pyshmem reader saw the frame change ${pythonRead.changes} times in ${pythonRead.reads} reads`);
  assert.equal(stream.count, nodeWrites + pythonWrites, 'the final count equals the total of writes');
  assertUniform(stream.read());
  // The load each side generated, for the closing note (the checks above do not depend on it).
  t.diagnostic(
    `Node writes ${nodeWrites}, pyshmem writes ${pythonWrites}, Node reads ${reports.filter((r) => r.role === 'reader').map((r) => r.reads).join(' + ')}, ` +
      `pyshmem reads ${pythonRead.reads} (the frame changed ${pythonRead.changes} times)`,
  );
});

test('20,000 open/read/close cycles leave descriptors, memory mappings, V8 heap and RSS flat', async (t) => {
  const { name, stream } = frameStream(t, 'leak');
  stream.write(new Float64Array(stream.size / 8).fill(1));
  const report = await runLeak({ name, cycles: 20000, warmup: 2000, gcEvery: 100 });
  const { before, after } = report;
  // The figures leakProblems() judges below, for judging a failure.
  t.diagnostic(
    `descriptors ${before.fds} -> ${after.fds}, mappings ${before.mappings} -> ${after.mappings}, ` +
      `RSS ${mib(before.rss)} -> ${mib(after.rss)} (peak ${mib(report.peakRss)}), heap ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}`,
  );
  assert.equal(after.fds, before.fds, 'descriptors');
  assert.deepEqual(leakProblems(report), []);
});

test('scripts/soak.js runs the stress and the leak check, prints its figures, cleans up and exits 0', async (t) => {
  const exit = await run(process.execPath, [SOAK, '--seconds', '2', '--cycles', '3000'], { timeout: 180000 }).done;
  assert.equal(exit.code, 0, exit.stdout + exit.stderr);
  const name = JSON.parse(exit.stdout.match(/^stream: (.*)$/m)[1]);
  assert.deepEqual(leftovers(name), [], 'the soak stream was removed');
  assert.match(exit.stdout, /writes (\d+), final count \1, reads \d+, torn snapshots 0, frames going backwards 0, counts going backwards 0, errors 0/);
  assert.match(exit.stdout, /leak: 3000 open\/read\/close cycles/);
  assert.match(exit.stdout, /descriptors (\d+) -> \1;/);
  assert.match(exit.stdout, /^OK$/m);
});

test('scripts/soak.js exits non-zero on a bad argument', async () => {
  const exit = await run(process.execPath, [SOAK, '--seconds', 'soon'], { timeout: 60000 }).done;
  assert.notEqual(exit.code, 0);
  assert.match(exit.stdout + exit.stderr, /--seconds needs a number/);
});
