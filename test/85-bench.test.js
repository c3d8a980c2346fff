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
import { cliPath, run } from './helpers.js';


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
function startBench(t, args, timeout = 50000) {
  const bench = run(process.execPath, [cliPath, 'bench', ...args], { timeout, detached: true });
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

  const bench = startBench(t, ['--quick', '--sections', 'io', '--sizes', '128x128', '--json', jsonPath]);
  const { code, stdout, stderr } = await bench.done;

  assert.equal(code, 0, stderr);
  assert.match(stdout, /^## tsshmem benchmark$/m);
  assert.match(stdout, /^### IO: write \+ read round trip in one process$/m);
  assert.match(stdout, /^\| payload \| method \| round trips\/s \| GB\/s \| vs memcpy \| vs protocol \| vs allocating copy \| page faults per round trip \|$/m);
  assert.match(stdout, /^\| 128x128 \(64\.0 KiB\) \| read\(\{ out \}\) \| /m);
  assert.match(stdout, /^\| 128x128 \(64\.0 KiB\) \| read\(\) \| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| [\d.,]+% \| /m, 'read() beside the allocating copy');
  assert.match(stdout, /^\| 128x128 \(64\.0 KiB\) \| allocating copy reference \(JS\) \| /m);
  assert.match(stdout, /^### Per-call overhead/m);
  assert.doesNotMatch(stdout, /### Wake/);

  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.deepEqual(Object.keys(report).sort(), ['machine', 'sections', 'settings', 'targets']);
  assert.equal(typeof report.machine.cpu, 'string');
  assert.ok(report.machine.cores > 0);
  assert.equal(report.settings.seconds, 0.3);
  assert.deepEqual(Object.keys(report.sections), ['io']);
  const [size] = report.sections.io.sizes;
  assert.deepEqual(size.shape, [128, 128]);
  assert.equal(size.bytes, 65536);
  for (const method of ['read', 'readOut', 'exclusiveReadOut', 'allocatingCopy', 'memcpy']) {
    assert.ok(size[method].hz > 0, `${method}.hz`);
    assert.ok(size[method].gbPerSecond > 0, `${method}.gbPerSecond`);
    assert.ok(size[method].iterations > 0, `${method}.iterations`);
  }
  assert.equal(size.allocatingCopy.sliceHz.length, report.sections.io.slicesPerCase, 'the allocating copy runs in turns with the other cases');
  for (const method of ['read', 'readOut', 'exclusiveReadOut', 'allocatingCopy']) {
    assert.ok(size[method].pageFaultsPerRoundTrip >= 0, `${method}.pageFaultsPerRoundTrip`);
  }
  for (const reference of [size.protocol, report.sections.io.perCall.protocol]) {
    assert.ok(reference.skipped === 'skipped: no C compiler' || (reference.hz > 0 && reference.pageFaultsPerRoundTrip === null));
  }
  assert.ok(report.sections.io.perCall.readOut.usPerRoundTrip > 0);
  const allocatingTarget = report.targets.find((check) => check.target === '128x128, default mode, read()');
  assert.ok(allocatingTarget !== undefined && allocatingTarget.ratio > 0, 'read() is judged against the allocating copy');
  assert.match(allocatingTarget.measured, /of allocating copy reference$/);
  assert.equal(allocatingTarget.goal, '>= 90.0%');
  assert.ok(!report.targets.some((check) => check.target.includes('vs read({ out })')), 'the read() vs read({ out }) target is retired');

  assert.deepEqual(benchStreamsOf(bench.child.pid), []);
  // Its C build directory is gone: none appeared (one made earlier by another run may go meanwhile).
  assert.deepEqual(benchBuildDirectories().filter((entry) => !buildsBefore.includes(entry)), []);
});

test('bench --quick measures every wake case on one CPU and across CPUs beside its C reference', { timeout: 180000 }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-bench-test-wake-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const jsonPath = join(directory, 'bench.json');

  const bench = startBench(t, ['--quick', '--duration', '0.1', '--sections', 'wake', '--json', jsonPath], 170000);
  const { code, stdout, stderr } = await bench.done;

  assert.equal(code, 0, stderr);
  assert.match(stdout, /^### Wake latency/m);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const { placements } = report.sections.wake;
  const compiled = placements.unpinned === undefined;
  const isLatency = (latency) => Number.isFinite(latency.medianUs) && Number.isFinite(latency.p99Us) && latency.samples > 0;
  const futexCases = ['next', 'readNewSync', 'exclusiveNext'];
  const spinCases = ['spin', 'exclusiveSpin'];
  if (!compiled) {
    for (const key of [...futexCases, ...spinCases]) assert.ok(isLatency(placements.unpinned.tsshmem[key]), `unpinned ${key}`);
    return;
  }
  assert.match(stdout, /^\| mechanism \| one CPU: round trip, median \| p99 \| vs same-work C, median \/ p99 \| separate CPUs: round trip, median \| p99 \| vs same-work C, median \/ p99 \|$/m);
  assert.match(stdout, /^\| tsshmem: await next\(\) \| [^|]+ µs \| [^|]+ µs \| [\d.,]+x \/ [\d.,]+x \| [^|]+ µs \| [^|]+ µs \| [\d.,]+x \/ [\d.,]+x \|$/m);
  assert.deepEqual(Object.keys(placements), ['oneCpu', 'separateCpus']);
  const { oneCpu, separateCpus } = placements;
  assert.equal(oneCpu.placement.initiatorCpu, oneCpu.placement.echoCpu);
  assert.notEqual(separateCpus.placement.initiatorCpu, separateCpus.placement.echoCpu);
  for (const key of ['bareFutex', 'bareSocket', 'protocolFutex', 'protocolSocket']) {
    assert.ok(isLatency(oneCpu.references[key]), `one CPU, C ${key}`);
    assert.ok(isLatency(separateCpus.references[key]), `separate CPUs, C ${key}`);
  }
  for (const key of futexCases) {
    assert.ok(isLatency(oneCpu.tsshmem[key]), `one CPU, ${key}`);
    assert.ok(isLatency(separateCpus.tsshmem[key]), `separate CPUs, ${key}`);
  }
  for (const key of spinCases) {
    assert.equal(oneCpu.tsshmem[key], undefined, `no spinning on one CPU: ${key}`);
    assert.ok(isLatency(separateCpus.tsshmem[key]), `separate CPUs, ${key}`);
  }
  assert.ok(isLatency(separateCpus.references.protocolSpin));
  for (const where of ['one CPU', 'separate CPUs']) {
    const note = new RegExp(`^${where}: await next\\(\\) is ([\\d.]+)x of protocol \\+ futex = ([\\d.]+)x for the event loop's wake .* x ([\\d.]+)x for Node and tsshmem`, 'm');
    const [, whole, wake, own] = stdout.match(note) ?? assert.fail(`no next() breakdown for ${where}`);
    assert.ok(Math.abs(Number(wake) * Number(own) - Number(whole)) <= 0.02 * Number(whole), `${where}: ${wake} x ${own} makes ${whole}`);
  }
  const wakeTargets = report.targets.filter((check) => check.target.startsWith('wake, '));
  assert.deepEqual(
    wakeTargets.map((check) => check.target),
    [
      'wake, one CPU, await next(), median',
      'wake, one CPU, readNewSync(), median',
      'wake, separate CPUs, await next(), median',
      'wake, separate CPUs, readNewSync(), median',
      'wake, separate CPUs, await next({ spin: 0.2 }), median',
    ],
  );
  for (const check of wakeTargets) {
    assert.ok(Number.isFinite(check.ratio) && check.ratio > 0, check.target);
    assert.match(check.measured, /p99/);
  }
  assert.deepEqual(benchStreamsOf(bench.child.pid), []);
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
