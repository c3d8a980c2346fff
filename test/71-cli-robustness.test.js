// The command line against hostile or awkward conditions: oversized metadata
// objects, slow peers, out-of-range durations, names only pyshmem knows.
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { create, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { cliPath, peersDirectory, run, streamName } from './helpers.js';

const TEST_TIMEOUT = 120000;
/** Past 4 GiB: more than one Buffer can hold. */
const OVERSIZED_METADATA_BYTES = 5 * 2 ** 30;

/** Runs `tsshmem ...args`; resolves with { code, signal, stdout, stderr }. */
function cli(args, options) {
  return run(process.execPath, [cliPath, ...args], options).done;
}

/**
 * Runs `tsshmem ...args`; resolves with { code, stdout, stderr, left }: left
 * names the streams it left in /dev/shm (those whose name holds its pid, as
 * tsshmem-demo-PID and tsshmem-bench/PID/... do), which are then removed.
 */
async function cliLeaving(args, options) {
  const running = run(process.execPath, [cliPath, ...args], options);
  const result = await running.done;
  const pid = String(running.child.pid);
  const ls = await cli(['ls', '--json']);
  const left = JSON.parse(ls.stdout).map((record) => record.name).filter((name) => name?.split(/[-/]/).includes(pid));
  for (const name of left) unlink(name);
  return { ...result, left };
}

test('ls, info and clean show a stream whose metadata object is sparse-truncated past 4 GiB, and exit 0', { timeout: TEST_TIMEOUT }, async (t) => {
  const ringName = streamName(t, 'oversized-ring');
  const plainName = streamName(t, 'oversized-plain');
  create(ringName, { shape: [4], dtype: 'float32', history: 4 }).close();
  create(plainName, { shape: [4], dtype: 'float32' }).close();
  for (const name of [ringName, plainName]) truncateSync(`/dev/shm/${baseName(name)}_meta`, OVERSIZED_METADATA_BYTES);

  const ls = await cli(['ls', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const records = JSON.parse(ls.stdout);
  for (const name of [ringName, plainName]) {
    const record = records.find((candidate) => candidate.base === baseName(name));
    assert.ok(record, `ls --json has no record of ${name}`);
    assert.equal(record.objects.meta.bytes, OVERSIZED_METADATA_BYTES);
    assert.ok(record.metadata !== null || record.problem !== null, `${name}: neither metadata nor a problem`);
  }
  const ring = records.find((candidate) => candidate.base === baseName(ringName));
  assert.equal(ring.ring.history, 4, 'the ring is read from its control area as before');

  const table = await cli(['ls']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`^${ringName} `, 'm'));

  const info = await cli(['info', ringName]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^ring +4 frame slots/m);

  const clean = await cli(['clean', '--dry-run', '--verbose', ringName, plainName]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, new RegExp(`${ringName}`));
  assert.match(clean.stdout, new RegExp(`${plainName}`));
});

test('demo starts its writer once the reader is ready, however slowly the reader starts', { timeout: TEST_TIMEOUT }, async () => {
  const slowReader = pathToFileURL(join(peersDirectory, 'slow-demo-reader.mjs')).href;
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${slowReader}`.trim() };
  for (const ring of [[], ['--history', '8']]) {
    const result = await cli(['demo', '--seconds', '0.5', '--rate', '200', ...ring], { env, timeout: 60000 });
    assert.equal(result.code, 0, `demo ${ring.join(' ')}: ${result.stderr}`);
    const [, seen, skipped] = result.stdout.match(/^reader: ([\d,]+) frames seen .*, ([\d,]+) skipped, 0 torn$/m) ?? [];
    const [, written] = result.stdout.match(/^writer: ([\d,]+) frames/m) ?? [];
    assert.ok(written !== undefined && seen !== undefined, result.stdout);
    const count = (text) => Number(text.replaceAll(',', ''));
    assert.equal(count(seen) + count(skipped), count(written), result.stdout);
  }
});

test('watch --duration/--interval and view --max-fps past the longest timer (2^31-1 ms), or an interval under 1 ms, are usage errors that state the range', { timeout: TEST_TIMEOUT }, async (t) => {
  // The stream exists, so only the option can be what fails.
  const name = streamName(t, 'timer-range');
  create(name, { shape: [4] }).close();
  const cases = [
    [['watch', name, '--duration', '2592000'], /--duration .*'2592000' is invalid\. expected seconds above 0 and at most 2147483\.647/],
    [['watch', name, '--interval', '2147483648'], /--interval .*'2147483648' is invalid\. expected milliseconds from 1 to 2147483647/],
    [['watch', name, '--interval', '0.5'], /--interval .*'0\.5' is invalid\. expected milliseconds from 1 to 2147483647/],
    [['view', name, '--max-fps', '1e-7'], /--max-fps .*'1e-7' is invalid\. expected a positive number, at least 1000\/2147483647/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(args, { timeout: 10000 });
    assert.equal(result.code, 2, `tsshmem ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning/);
  }
  // The longest timer itself is accepted: watch samples once, then waits until stopped.
  const longest = run(process.execPath, [cliPath, 'watch', name, '--duration', '2147483.647', '--interval', '2147483647'], { timeout: 30000 });
  t.after(() => longest.child.kill('SIGKILL'));
  await longest.lines.waitFor(new RegExp(`^${name} rate=- count=0`), 20000);
  longest.child.kill('SIGINT');
  const stopped = await longest.done;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stderr, '');
});

test('bench --duration and demo --seconds past the longest timer (2^31-1 ms), and demo --rate slower than one frame in it, are usage errors that state the range, and create nothing', { timeout: TEST_TIMEOUT }, async () => {
  const cases = [
    [['bench', '--duration', '1e12', '--sections', 'io'], /--duration .*'1e12' is invalid\. expected seconds above 0 and at most 2147483\.647/],
    [['bench', '--duration', '0', '--sections', 'io'], /--duration .*'0' is invalid\. expected seconds above 0 and at most 2147483\.647/],
    [['demo', '--seconds', '2147483.648'], /--seconds .*'2147483\.648' is invalid\. expected seconds above 0 and at most 2147483\.647/],
    [['demo', '--seconds', '0.1', '--rate', '1e-7'], /--rate .*'1e-7' is invalid\. expected a positive number, at least 1000\/2147483647/],
  ];
  for (const [args, message] of cases) {
    const result = await cliLeaving(args, { timeout: 20000 });
    assert.equal(result.code, 2, `tsshmem ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '', 'nothing ran');
    assert.deepEqual(result.left, [], 'nothing was created');
  }
});

test('demo refuses a --shape whose frame no buffer can hold, or whose stream does not fit in the free space of /dev/shm, before creating anything', { timeout: TEST_TIMEOUT }, async () => {
  const cases = [
    // Past 2^53 - 1 bytes: no runtime's buffer holds it (Node 20's stops at 4 GiB).
    [['--shape', '100000x100000x1000000'], /a 100000x100000x1000000 float32 frame \(40000000000000000 bytes\) is larger than a buffer can be \(\d+ bytes\): use a smaller --shape/],
    [['--shape', '9007199254740991x2'], /is larger than a buffer can be \(\d+ bytes\): use a smaller --shape/],
    // 1 GiB frames: a buffer holds one, but 65536 of them fit in no /dev/shm here.
    [['--shape', '16384x16384', '--history', '65536'], /a 16384x16384 float32 frame \(1073741824 bytes\) x 65536 slots needs more than the \d+ bytes free in \/dev\/shm: use a smaller --shape or --history/],
  ];
  for (const [args, message] of cases) {
    const result = await cliLeaving(['demo', '--seconds', '0.1', ...args], { timeout: 20000 });
    assert.equal(result.code, 2, `tsshmem demo ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '', 'nothing ran');
    assert.deepEqual(result.left, [], 'nothing was created');
  }
});

test('demo refuses a history that is not a whole number from 2 to 65536, and --block without --history, as usage errors', { timeout: TEST_TIMEOUT }, async () => {
  const cases = [
    [['--history', '2.5'], /--history .*'2\.5' is invalid\. expected a positive whole number/],
    [['--history', '1'], /history must be an integer from 2 to 65536 frame slots, received 1/],
    [['--history', '65537'], /history must be an integer from 2 to 65536 frame slots, received 65537/],
    [['--block'], /--block needs --history/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(['demo', '--seconds', '0.1', ...args], { timeout: 20000 });
    assert.equal(result.code, 2, `tsshmem demo ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, '', 'nothing ran');
  }
});
