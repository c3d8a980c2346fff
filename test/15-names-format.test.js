// Byte-level checks of the on-host format of pyshmem 1.0.2 (docs/format.md),
// read straight from /dev/shm and the lock directory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';

import { create, DTYPE_NAMES, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';
import { leftovers, run, runNodePeer, streamName } from './helpers.js';

const CODES = { int8: 0, int16: 1, int32: 2, int64: 3, uint8: 4, uint16: 5, uint32: 6, uint64: 7, float16: 8, float32: 9, float64: 10 };
const ITEM_SIZES = { int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8, float16: 2, float32: 4, float64: 8 };

function sha1Base(name) {
  return 'ps_' + createHash('sha1').update(Buffer.from(name, 'utf8')).digest('hex').slice(0, 14);
}

/** The 32 float64 metadata fields, as stored in /dev/shm/<base>_meta. */
function rawMeta(base) {
  const bytes = readFileSync(`/dev/shm/${base}_meta`);
  return Array.from({ length: 32 }, (_, i) => bytes.readDoubleLE(i * 8));
}

/** A metadata block as pyshmem lays it out for a new CPU stream. */
function expectedMeta({ count, code, shape, size, pid, writeTime, sequence, owner = 0, depth = 0 }) {
  const fields = [2, count, code, shape.length, size, 0, -1, pid, writeTime, sequence, owner, depth, 1, ...shape];
  return [...fields, ...new Array(32 - fields.length).fill(0)];
}

/** "busy" or "free": whether Python's fcntl.flock can take the file at path without waiting. */
async function pythonFlockState(path) {
  const script = [
    'import fcntl, sys',
    'f = open(sys.argv[1], "a")',
    'try:',
    '    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)',
    '    print("free")',
    'except BlockingIOError:',
    '    print("busy")',
  ].join('\n');
  const { code, stdout, stderr } = await run('python3', ['-c', script, path]).done;
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

async function pythonTempDirectory(env) {
  const { code, stdout, stderr } = await run('python3', ['-c', 'import tempfile; print(tempfile.gettempdir())'], { env }).done;
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

function temporaryDirectory(t) {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-tmpdir-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

test("segment names are pyshmem's: ps_ + 14 hex digits of SHA-1 of the UTF-8 name", (t) => {
  // FORMAT.md's examples, by name alone: streams called demo_frame or a may
  // be a user's, which a test must not create or unlink.
  const examples = { demo_frame: 'ps_aa37dcd1cf787c', a: 'ps_86f7e437faa5a7', 'héllo wörld': 'ps_24e9f5c07847ff' };
  for (const [name, base] of Object.entries(examples)) {
    assert.equal(baseName(name), base, name);
    assert.equal(sha1Base(name), base, `the test's own SHA-1 of ${name}`);
    assert.equal(basename(lockPath(name)), `${base}.lock`, name);
  }
  // A stream's objects are made, and removed, under that base name.
  const unusual = streamName(t, 'ünïcödé 🚀 / spaces');
  const base = sha1Base(unusual);
  create(unusual, { shape: [1] }).close();
  assert.ok(existsSync(`/dev/shm/${base}`), `${unusual} -> /dev/shm/${base}`);
  assert.ok(existsSync(`/dev/shm/${base}_meta`), `${unusual} -> /dev/shm/${base}_meta`);
  assert.deepEqual(leftovers(unusual).filter((entry) => entry.startsWith('ps_')).sort(), [base, `${base}_meta`]);
  assert.equal(unlink(unusual), true);
  assert.equal(existsSync(`/dev/shm/${base}`), false);
  assert.equal(existsSync(`/dev/shm/${base}_meta`), false);
});

test('the metadata of a new stream holds every field of the pyshmem v2 layout', (t) => {
  const name = streamName(t, 'meta-new');
  const base = sha1Base(name);
  const stream = create(name, { shape: [3, 5, 2], dtype: 'uint16' });
  assert.deepEqual(rawMeta(base), expectedMeta({ count: 0, code: 5, shape: [3, 5, 2], size: 60, pid: process.pid, writeTime: 0, sequence: 0 }));
  assert.ok(statSync(`/dev/shm/${base}_meta`).size >= 256);
  assert.equal(statSync(`/dev/shm/${base}`).size, 60);
  assert.equal(statSync(`/dev/shm/${base}_meta`).mode & 0o777, 0o600);
  assert.equal(statSync(`/dev/shm/${base}`).mode & 0o777, 0o600);
  stream.close();
});

test("after one write the metadata matches the 4x4 float32 example of the format spec", (t) => {
  const name = streamName(t, 'meta-write');
  const base = sha1Base(name);
  const stream = create(name, { shape: [4, 4], dtype: 'float32' });
  const before = Date.now() / 1000;
  stream.write(new Float32Array(16).fill(1));
  const after = Date.now() / 1000;
  const meta = rawMeta(base);
  assert.ok(meta[8] >= before - 0.01 && meta[8] <= after + 0.01, `write time ${meta[8]} outside [${before}, ${after}]`);
  assert.deepEqual(meta, expectedMeta({ count: 1, code: 9, shape: [4, 4], size: 64, pid: process.pid, writeTime: meta[8], sequence: 2 }));
  assert.equal(stream.writeTime, meta[8]);

  stream.write(new Float32Array(16).fill(2));
  stream.clear();
  assert.deepEqual(rawMeta(base).slice(1, 2), [3]);
  assert.deepEqual(rawMeta(base).slice(9, 12), [6, 0, 0]);
  stream.close();
});

test('the lock owner pid and re-entrant depth are recorded while held and reset on release', async (t) => {
  const name = streamName(t, 'meta-lock');
  const base = sha1Base(name);
  const stream = create(name, { shape: [2] });
  await stream.acquire();
  assert.deepEqual(rawMeta(base).slice(10, 12), [process.pid, 1]);
  await stream.acquire();
  assert.deepEqual(rawMeta(base).slice(10, 12), [process.pid, 2]);
  stream.write([1, 2]);
  assert.deepEqual(rawMeta(base).slice(9, 12), [2, process.pid, 2]);
  stream.release();
  assert.deepEqual(rawMeta(base).slice(10, 12), [process.pid, 1]);
  stream.release();
  assert.deepEqual(rawMeta(base).slice(10, 12), [0, 0]);
  stream.close();
});

test('every dtype is stored under its pyshmem code with its item size', (t) => {
  assert.deepEqual([...DTYPE_NAMES].sort(), Object.keys(CODES).sort());
  for (const dtype of DTYPE_NAMES) {
    const name = streamName(t, `dtype-${dtype}`);
    const base = sha1Base(name);
    create(name, { shape: [7, 3], dtype }).close();
    const meta = rawMeta(base);
    assert.equal(meta[2], CODES[dtype], dtype);
    assert.equal(meta[4], 21 * ITEM_SIZES[dtype], dtype);
    assert.equal(statSync(`/dev/shm/${base}`).size, 21 * ITEM_SIZES[dtype], dtype);
  }
});

test('the data object holds the payload in C order, little-endian', (t) => {
  const name = streamName(t, 'layout');
  const base = sha1Base(name);
  const stream = create(name, { shape: [2, 3], dtype: 'int32' });
  stream.write([[1, -2, 3], [0x01020304, -0x7fffffff - 1, 6]]);
  const expected = Buffer.alloc(24);
  [1, -2, 3, 0x01020304, -0x7fffffff - 1, 6].forEach((value, i) => expected.writeInt32LE(value, i * 4));
  assert.deepEqual(readFileSync(`/dev/shm/${base}`), expected);

  const doubles = create(streamName(t, 'layout-f64'), { shape: [2], dtype: 'float64' });
  doubles.write([Math.PI, -0]);
  const doubleBytes = Buffer.alloc(16);
  doubleBytes.writeDoubleLE(Math.PI, 0);
  doubleBytes.writeDoubleLE(-0, 8);
  assert.deepEqual(readFileSync(`/dev/shm/${sha1Base(doubles.name)}`), doubleBytes);
  doubles.close();
  stream.close();
});

test('the lock is a flock on the empty file <tmp>/pyshmem-locks/<base>.lock', async (t) => {
  const name = streamName(t, 'lockfile');
  const stream = create(name, { shape: [1] });
  const path = join(await pythonTempDirectory(), 'pyshmem-locks', `${sha1Base(name)}.lock`);
  assert.ok(existsSync(path), path);
  assert.equal(await pythonFlockState(path), 'free');
  await stream.acquire();
  assert.equal(await pythonFlockState(path), 'busy');
  stream.write([1]);
  assert.equal(statSync(path).size, 0);
  stream.release();
  assert.equal(await pythonFlockState(path), 'free');
  stream.close();
});

test("the lock directory is Python's tempfile.gettempdir(): $TMPDIR, else $TEMP or $TMP", async (t) => {
  const first = temporaryDirectory(t);
  const second = temporaryDirectory(t);
  const environments = [
    { TMPDIR: first },
    { TMPDIR: join(first, 'missing'), TEMP: second },
    { TMPDIR: '', TEMP: join(second, 'missing'), TMP: first },
  ];
  for (const env of environments) {
    const name = streamName(t, 'tmpdir');
    const expectedDirectory = await pythonTempDirectory(env);
    assert.ok([first, second].includes(expectedDirectory), `python chose ${expectedDirectory} for ${JSON.stringify(env)}`);
    const lockDirectory = join(expectedDirectory, 'pyshmem-locks');
    rmSync(lockDirectory, { recursive: true, force: true });

    const { code, stderr } = await runNodePeer('creator.js', { name, shape: [2], dtype: 'float32', values: [1, 2] }, { env }).done;
    assert.equal(code, 0, stderr);
    assert.ok(existsSync(join(lockDirectory, `${sha1Base(name)}.lock`)), `lock file under ${lockDirectory} for ${JSON.stringify(env)}`);
  }
});

test('unlink() removes the data, metadata and GPU handle objects and the lock file', (t) => {
  const name = streamName(t, 'unlink');
  const base = sha1Base(name);
  create(name, { shape: [4] }).close();
  writeFileSync(`/dev/shm/${base}_gpu`, Buffer.alloc(8));
  assert.deepEqual(leftovers(name).length, 4);
  assert.equal(unlink(name), true);
  assert.deepEqual(leftovers(name), []);
  assert.equal(unlink(name), false);
});
