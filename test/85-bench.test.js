// `tsshmem bench` end to end, on short runs: the Markdown tables on stdout,
// the JSON figures, and nothing left behind, also after Ctrl-C. No speed
// assertions: the figures depend on the machine.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { readStoredName } from '../packages/tsshmem/dist/format/extension.js';
import { unlinkByBase } from '../packages/tsshmem/dist/internal.js';
import { run } from './helpers.js';

const cli = new URL('../packages/tsshmem-cli/dist/cli/main.js', import.meta.url).pathname;

/** Streams in /dev/shm whose stored name says the bench run with this pid made them. */
function benchStreamsOf(pid) {
  const prefix = `tsshmem-bench/${pid}/`;
  return readdirSync('/dev/shm')
    .filter((entry) => /^ps_[0-9a-f]{14}_meta$/.test(entry))
    .filter((entry) => {
      try {
        return readStoredName(new Uint8Array(readFileSync(join('/dev/shm', entry))))?.startsWith(prefix) === true;
      } catch {
        return false; // removed meanwhile by another test
      }
    });
}

/** Processes whose command line names a stream of the bench run with this pid (its peers). */
function benchPeersOf(pid) {
  const marker = `tsshmem-bench/${pid}/`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
}

/**
 * Runs the bench in a process group of its own. After the test, pass or
 * fail, the group (the bench and its peers) is killed and the streams it
 * made are removed.
 */
function startBench(t, args) {
  const bench = run(process.execPath, [cli, 'bench', ...args], { timeout: 50000, detached: true });
  t.after(async () => {
    try {
      process.kill(-bench.child.pid, 'SIGKILL');
    } catch (error) {
      if (error.code !== 'ESRCH') throw error;
    }
    await bench.done;
    for (const entry of benchStreamsOf(bench.child.pid)) unlinkByBase(entry.slice(0, -'_meta'.length));
  });
  return bench;
}

function benchBuildDirectories() {
  return readdirSync(tmpdir()).filter((entry) => entry.startsWith('tsshmem-bench-'));
}

test('bench --quick prints the IO tables and writes every figure as JSON', { timeout: 60000 }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-bench-test-json-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const jsonPath = join(directory, 'bench.json');
  const buildsBefore = benchBuildDirectories();

  const bench = startBench(t, ['--quick', '--sections', 'io', '--sizes', '100x100', '--json', jsonPath]);
  const { code, stdout, stderr } = await bench.done;

  assert.equal(code, 0, stderr);
  assert.match(stdout, /^## tsshmem benchmark$/m);
  assert.match(stdout, /^### IO: write \+ read round trip in one process$/m);
  assert.match(stdout, /^\| payload \| method \| round trips\/s \| GB\/s \| vs memcpy \| vs protocol \| page faults per round trip \|$/m);
  assert.match(stdout, /^\| 100x100 \(39\.1 KiB\) \| read\(\{ out \}\) \| /m);
  assert.match(stdout, /^### Per-call overhead/m);
  assert.doesNotMatch(stdout, /### Wake/);

  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.deepEqual(Object.keys(report).sort(), ['machine', 'sections', 'settings', 'targets']);
  assert.equal(typeof report.machine.cpu, 'string');
  assert.ok(report.machine.cores > 0);
  assert.equal(report.settings.seconds, 0.3);
  assert.deepEqual(Object.keys(report.sections), ['io']);
  const [size] = report.sections.io.sizes;
  assert.deepEqual(size.shape, [100, 100]);
  assert.equal(size.bytes, 40000);
  for (const method of ['read', 'readOut', 'exclusiveReadOut', 'memcpy']) {
    assert.ok(size[method].hz > 0, `${method}.hz`);
    assert.ok(size[method].gbPerSecond > 0, `${method}.gbPerSecond`);
    assert.ok(size[method].iterations > 0, `${method}.iterations`);
  }
  for (const method of ['read', 'readOut', 'exclusiveReadOut']) {
    assert.ok(size[method].pageFaultsPerRoundTrip >= 0, `${method}.pageFaultsPerRoundTrip`);
  }
  for (const reference of [size.protocol, report.sections.io.perCall.protocol]) {
    assert.ok(reference.skipped === 'skipped: no C compiler' || (reference.hz > 0 && reference.pageFaultsPerRoundTrip === null));
  }
  assert.ok(report.sections.io.perCall.readOut.usPerRoundTrip > 0);
  assert.ok(Array.isArray(report.targets));

  assert.deepEqual(benchStreamsOf(bench.child.pid), []);
  // Its C build directory is gone: none appeared (one made earlier by another run may go meanwhile).
  assert.deepEqual(benchBuildDirectories().filter((entry) => !buildsBefore.includes(entry)), []);
});

test('bench removes its streams and stops its peers on Ctrl-C', { timeout: 60000 }, async (t) => {
  const bench = startBench(t, ['--sections', 'processes', '--duration', '20']);
  const pid = bench.child.pid;
  await new Promise((resolve, reject) => {
    bench.child.stderr.on('data', (chunk) => {
      if (String(chunk).includes('processes 128x128')) resolve();
    });
    bench.child.on('close', () => reject(new Error('the bench ended before the processes section started')));
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.notDeepEqual(benchStreamsOf(pid), [], 'the stream exists while the section runs');
  assert.notDeepEqual(benchPeersOf(pid), [], 'the writer and reader run');
  bench.child.kill('SIGINT');
  const { code, signal } = await bench.done;

  assert.deepEqual({ code, signal }, { code: 130, signal: null });
  assert.deepEqual(benchStreamsOf(pid), []);
  assert.deepEqual(benchPeersOf(pid), []);
});
