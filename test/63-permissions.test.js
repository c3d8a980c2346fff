// Permissions and names: modes of the objects a stream is made of, symlinks
// planted where the lock file or lock directory go, any Unicode name, and a
// second user who must not get into a 0600 stream.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { create, open, ShmError, unlink } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';
import { dataPath, metaPath } from './fault-helpers.js';
import { leftovers, peersDirectory, run, runNodePeer, runPythonPeer, streamName } from './helpers.js';

const modeOf = (path) => statSync(path).mode & 0o777;

function withUmask(mask, fn) {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

// --- Modes --------------------------------------------------------------------

test('segments and the lock file are created 0600 by default, whatever the umask', (t) => {
  for (const mask of [0o000, 0o022, 0o077]) {
    const name = streamName(t, `mode-default-${mask.toString(8)}`);
    withUmask(mask, () => create(name, { shape: [4] }).close());
    assert.equal(modeOf(dataPath(name)), 0o600, `data object under umask ${mask.toString(8)}`);
    assert.equal(modeOf(metaPath(name)), 0o600, `metadata object under umask ${mask.toString(8)}`);
    assert.equal(modeOf(lockPath(name)), 0o600, `lock file under umask ${mask.toString(8)}`);
  }
});

test('create({ mode }) gives the segments and the lock file that mode exactly', (t) => {
  for (const mode of [0o640, 0o644, 0o660, 0o666, 0o400]) {
    const name = streamName(t, `mode-${mode.toString(8)}`);
    withUmask(0o077, () => create(name, { shape: [4], mode }).close());
    for (const path of [dataPath(name), metaPath(name), lockPath(name)]) {
      assert.equal(modeOf(path), mode, `${path}: ${modeOf(path).toString(8)} instead of ${mode.toString(8)}`);
    }
  }
});

test('create({ mode }) refuses modes that are not permission bits, creating nothing', (t) => {
  for (const mode of [0o1000, 0o4755, -1, 1.5, NaN, '0600', null]) {
    const name = streamName(t, 'mode-invalid');
    assert.throws(() => create(name, { shape: [4], mode }), (error) => ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE'].includes(error.code), `mode ${String(mode)}`);
    assert.deepEqual(leftovers(name), [], `mode ${String(mode)}`);
  }
});

// --- Symlinks planted in the lock directory ---------------------------------------

/** A private TMPDIR for a child process, so the real lock directory is never touched. */
function privateTemp(t) {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-perm-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

async function peerIn(temp, args) {
  const exit = await runNodePeer('perm_peer.js', args, { env: { TMPDIR: temp }, timeout: 30000 }).done;
  assert.equal(exit.code, 0, exit.stderr);
  return JSON.parse(exit.stdout);
}

/** The shm objects of a stream (not its lock file, which lives under another TMPDIR here). */
const segmentsOf = (name) => leftovers(name).filter((entry) => !entry.includes('/'));

test('a symlink planted as the lock file is not followed: create() fails, the target is untouched, no segments remain', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-lock-file');
  mkdirSync(join(temp, 'pyshmem-locks'));
  const victim = join(temp, 'victim');
  writeFileSync(victim, 'precious', { mode: 0o644 });
  const planted = join(temp, 'pyshmem-locks', `${baseName(name)}.lock`);
  symlinkSync(victim, planted);

  const { results } = await peerIn(temp, { action: 'create', name });
  assert.equal(results.lockPath, planted, 'the child used the private lock directory');
  assert.equal(results.create.ok, false, 'create() followed the planted symlink');
  assert.equal(results.create.code, 'EACCES', results.create.message);
  assert.match(results.create.message, /lock file .*\.lock is a symlink/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(modeOf(victim), 0o644, 'the target was not chmod-ed');
  assert.deepEqual(segmentsOf(name), [], 'the failed create() removed its segments');
});

test('a dangling symlink planted as the lock file: create() fails and does not create its target', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-dangling');
  mkdirSync(join(temp, 'pyshmem-locks'));
  const target = join(temp, 'would-be-created');
  symlinkSync(target, join(temp, 'pyshmem-locks', `${baseName(name)}.lock`));
  const { results } = await peerIn(temp, { action: 'create', name });
  assert.equal(results.create.ok, false);
  assert.equal(results.create.code, 'EACCES', results.create.message);
  assert.equal(existsSync(target), false);
  assert.deepEqual(segmentsOf(name), []);
});

test('unlink() removes a dangling symlink planted as the lock file, with the stream', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-unlink');
  create(name, { shape: [4] }).close();
  mkdirSync(join(temp, 'pyshmem-locks'));
  const planted = join(temp, 'pyshmem-locks', `${baseName(name)}.lock`);
  symlinkSync(join(temp, 'nowhere'), planted);
  const { results } = await peerIn(temp, { action: 'unlink', name });
  assert.equal(results.lockPath, planted, 'the child used the private lock directory');
  assert.equal(results.unlink.ok, true, results.unlink.message);
  assert.deepEqual(segmentsOf(name), []);
  assert.throws(() => lstatSync(planted), { code: 'ENOENT' }, 'the planted symlink is still there');
});

test('a symlink planted as the lock file of an existing stream: open() fails and leaves the stream alone', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-open');
  const stream = create(name, { shape: [4] });
  t.after(() => stream.close());
  stream.write([1, 2, 3, 4]);
  mkdirSync(join(temp, 'pyshmem-locks'));
  const victim = join(temp, 'victim');
  writeFileSync(victim, 'precious');
  symlinkSync(victim, join(temp, 'pyshmem-locks', `${baseName(name)}.lock`));
  const { results } = await peerIn(temp, { action: 'open', name });
  assert.equal(results.open.ok, false);
  assert.equal(results.open.code, 'EACCES', results.open.message);
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.deepEqual(Array.from(stream.read()), [1, 2, 3, 4], 'the stream is intact');
  assert.equal(segmentsOf(name).length, 2);
});

test('a symlink planted as the lock directory is refused: create() fails with EACCES, nothing lands in its target', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-lock-dir');
  const elsewhere = join(temp, 'elsewhere');
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(temp, 'pyshmem-locks'));
  const { results } = await peerIn(temp, { action: 'create', name });
  assert.equal(results.create.ok, false, 'create() used a symlinked lock directory');
  assert.equal(results.create.errorName, 'ShmError');
  assert.equal(results.create.code, 'EACCES');
  assert.match(results.create.message, /lock directory .*pyshmem-locks is a symlink/);
  assert.equal(existsSync(join(elsewhere, `${baseName(name)}.lock`)), false);
  assert.deepEqual(segmentsOf(name), []);
  assert.ok(lstatSync(join(temp, 'pyshmem-locks')).isSymbolicLink(), 'the planted link is left for its owner to see');
});

test('a dangling symlink planted as the lock directory: create() fails and does not create its target', async (t) => {
  const temp = privateTemp(t);
  const name = streamName(t, 'planted-dangling-dir');
  const target = join(temp, 'would-be-created');
  symlinkSync(target, join(temp, 'pyshmem-locks'));
  const { results } = await peerIn(temp, { action: 'create', name });
  assert.equal(results.create.ok, false);
  assert.equal(existsSync(target), false);
  assert.deepEqual(segmentsOf(name), []);
});

// --- Names --------------------------------------------------------------------------

const UNICODE_NAMES = [
  'héllo wörld',
  'with spaces and\ttabs',
  '/leading/slash/and/more/slashes/',
  '../../etc/passwd',
  '日本語のストリーム',
  'emoji 🛰️📡 frame',
  'Ελληνικά / العربية / עברית',
  'nul\u0000inside',
  '.',
  'x'.repeat(5000),
];

test('names of any Unicode text, with spaces, slashes, dots or NUL, are hashed: create, write, reopen elsewhere', async (t) => {
  for (const label of UNICODE_NAMES) {
    const name = `${label} ${process.pid} ${Math.random()}`;
    t.after(() => unlink(name));
    const base = `ps_${createHash('sha1').update(Buffer.from(name, 'utf8')).digest('hex').slice(0, 14)}`;
    const stream = create(name, { shape: [3], dtype: 'int32' });
    stream.write([1, 2, 3]);
    assert.ok(existsSync(`/dev/shm/${base}`) && existsSync(`/dev/shm/${base}_meta`), `objects of ${JSON.stringify(label.slice(0, 40))}`);
    assert.equal(stream.name, name);
    const again = open(name);
    assert.deepEqual(Array.from(again.read()), [1, 2, 3]);
    again.close();
    stream.close();
  }
  // pyshmem hashes the same UTF-8 bytes: the Python peer finds these streams.
  for (const label of ['héllo wörld', '日本語のストリーム', 'emoji 🛰️📡 frame', '/leading/slash/and/more/slashes/']) {
    const name = `${label} ${process.pid} ${Math.random()}`;
    t.after(() => unlink(name));
    const stream = create(name, { shape: [2], dtype: 'float64' });
    stream.write([0.5, -2]);
    stream.close();
    const exit = await runPythonPeer('read', { name }, { timeout: 30000 }).done;
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(JSON.parse(exit.stdout).values, [0.5, -2], label);
  }
});

test('an empty or non-string name is a TypeError with code ERR_INVALID_ARG_TYPE, for create, open and unlink', () => {
  for (const bad of ['', 42, null, undefined, {}, ['a'], Symbol('s'), new String('boxed'), Buffer.from('x')]) {
    for (const [what, fn] of [
      ['create', () => create(bad, { shape: [4] })],
      ['open', () => open(bad)],
      ['unlink', () => unlink(bad)],
    ]) {
      assert.throws(fn, (error) => error instanceof TypeError && error.code === 'ERR_INVALID_ARG_TYPE', `${what}(${typeof bad === 'symbol' ? 'Symbol' : JSON.stringify(bad)})`);
    }
  }
});

// --- A second user ---------------------------------------------------------------

const NOBODY = 65534;

function asNobody(args, env) {
  return run('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, join(peersDirectory, 'perm_peer.js'), JSON.stringify(args)], {
    timeout: 30000,
    env,
  }).done;
}

test('the suite runs as root with setpriv available (needed for the second-user tests)', () => {
  assert.equal(process.getuid(), 0, 'the second-user tests need root to switch to uid 65534: run the suite as root (CI does)');
  const setpriv = spawnSync('setpriv', ['--version'], { encoding: 'utf8' });
  assert.equal(setpriv.status, 0, `setpriv (util-linux) is needed: ${setpriv.error?.message ?? setpriv.stderr}`);
});

test('a second user (uid 65534 via setpriv) cannot open a 0600 stream, read its segments, take or remove its lock file, or unlink it', async (t) => {
  assert.equal(process.getuid(), 0, 'needs root');
  const name = streamName(t, 'second-user');
  const stream = create(name, { shape: [4] });
  t.after(() => stream.close());
  stream.write([1, 2, 3, 4]);
  const before = leftovers(name).sort();

  const exit = await asNobody({ action: 'intrude', name, lockPath: lockPath(name), metaPath: metaPath(name) });
  assert.equal(exit.code, 0, exit.stderr);
  const { uid, gid, groups, results } = JSON.parse(exit.stdout);
  assert.deepEqual([uid, gid], [NOBODY, NOBODY], 'the peer ran as the second user');
  assert.ok(!groups.includes(0), `no root group left: ${groups}`);
  assert.equal(results.open.ok, false, 'open() succeeded for another user');
  assert.equal(results.open.errorName, 'ShmError');
  assert.equal(results.open.code, 'EACCES');
  assert.match(results.open.message, /permission denied on stream .* it belongs to another user/);
  assert.equal(results.readMeta.code, 'EACCES');
  assert.equal(results.lockForReading.code, 'EACCES', 'a readable lock file could be flock-ed by anyone');
  assert.equal(results.lockForAppend.code, 'EACCES');
  assert.equal(results.unlink.ok, false, 'another user removed the stream');
  assert.equal(results.unlink.code, 'EACCES', results.unlink.message);
  assert.equal(results.removeLock.ok, false, 'another user removed the lock file');
  assert.equal(results.create.ok, false);

  // Nothing changed for the owner.
  assert.deepEqual(leftovers(name).sort(), before);
  assert.deepEqual(Array.from(stream.read()), [1, 2, 3, 4]);
  assert.deepEqual(stream.lockInfo(), { locked: false, ownerPid: null, heldByThisThread: false });
  stream.write([4, 3, 2, 1], { timeout: 0 });
});

test('control: the same second user can use a stream created with mode 0o666', async (t) => {
  assert.equal(process.getuid(), 0, 'needs root');
  const name = streamName(t, 'second-user-shared');
  const stream = create(name, { shape: [4], mode: 0o666 });
  t.after(() => stream.close());
  stream.write([1, 2, 3, 4]);
  const exit = await asNobody({ action: 'use', name, values: [9, 8, 7, 6] });
  assert.equal(exit.code, 0, exit.stderr);
  const { uid, results } = JSON.parse(exit.stdout);
  assert.equal(uid, NOBODY);
  assert.equal(results.use.ok, true, results.use.message);
  assert.deepEqual(results.use.value, [1, 2, 3, 4]);
  assert.deepEqual(Array.from(stream.read()), [9, 8, 7, 6]);
  assert.equal(stream.count, 2);
});

// --- A lock directory another user could tamper with --------------------------------

/** A TMPDIR shared like /tmp (root's, 1777), so the second user can make its own lock directory in it. */
function sharedTemp(t) {
  const directory = privateTemp(t);
  chmodSync(directory, 0o1777);
  return directory;
}

async function createAsRoot(temp, name) {
  const { results } = await peerIn(temp, { action: 'create', name });
  return results.create;
}

test('a lock directory made by another non-root user is refused with EACCES and advice to use a private TMPDIR; its maker still uses it', async (t) => {
  assert.equal(process.getuid(), 0, 'needs root');
  const temp = sharedTemp(t);
  const theirName = streamName(t, 'their-lock-dir');
  const ourName = streamName(t, 'our-stream-in-their-lock-dir');
  const exit = await asNobody({ action: 'create', name: theirName }, { TMPDIR: temp });
  assert.equal(exit.code, 0, exit.stderr);
  const theirs = JSON.parse(exit.stdout);
  assert.equal(theirs.results.create.ok, true, `the second user could not use its own lock directory: ${theirs.results.create.message}`);
  assert.equal(lstatSync(join(temp, 'pyshmem-locks')).uid, NOBODY, 'the second user made the lock directory');

  const ours = await createAsRoot(temp, ourName);
  assert.equal(ours.ok, false, 'create() used a lock directory that another user owns');
  assert.equal(ours.code, 'EACCES', ours.message);
  assert.match(ours.message, /lock directory .*pyshmem-locks belongs to another user \(uid 65534\).*set TMPDIR to a directory of your own/);
  assert.deepEqual(segmentsOf(ourName), [], 'the refused create() left segments');
});

test('a lock directory writable by group or others without the sticky bit is refused with EACCES, for its owner and for a second user', async (t) => {
  assert.equal(process.getuid(), 0, 'needs root');
  for (const [mode, who] of [
    [0o777, 'everyone'],
    [0o775, 'its group'],
  ]) {
    const temp = sharedTemp(t);
    const lockDirectory = join(temp, 'pyshmem-locks');
    mkdirSync(lockDirectory);
    chownSync(lockDirectory, 0, NOBODY);
    chmodSync(lockDirectory, mode);
    const name = streamName(t, `open-lock-dir-${mode.toString(8)}`);

    const ours = await createAsRoot(temp, name);
    assert.equal(ours.ok, false, `create() used a lock directory of mode ${mode.toString(8)}`);
    assert.equal(ours.code, 'EACCES', ours.message);
    assert.match(ours.message, new RegExp(`writable by ${who} without the sticky bit.*chmod \\+t or go-w it.*set TMPDIR`));

    const exit = await asNobody({ action: 'create', name }, { TMPDIR: temp });
    assert.equal(exit.code, 0, exit.stderr);
    const theirs = JSON.parse(exit.stdout).results.create;
    assert.equal(theirs.ok, false, `the second user used a lock directory of mode ${mode.toString(8)}`);
    assert.equal(theirs.code, 'EACCES', theirs.message);
    assert.deepEqual(readdirSync(lockDirectory), [], 'a lock file was made in the refused directory');
    assert.deepEqual(segmentsOf(name), []);
  }
});

test('control: a root-owned sticky lock directory (like /tmp) is used by root and by a second user', async (t) => {
  assert.equal(process.getuid(), 0, 'needs root');
  const temp = sharedTemp(t);
  const lockDirectory = join(temp, 'pyshmem-locks');
  mkdirSync(lockDirectory);
  chmodSync(lockDirectory, 0o1777);
  const ourName = streamName(t, 'sticky-lock-dir-ours');
  const theirName = streamName(t, 'sticky-lock-dir-theirs');
  const ours = await createAsRoot(temp, ourName);
  assert.equal(ours.ok, true, ours.message);
  const exit = await asNobody({ action: 'create', name: theirName }, { TMPDIR: temp });
  assert.equal(exit.code, 0, exit.stderr);
  const theirs = JSON.parse(exit.stdout).results.create;
  assert.equal(theirs.ok, true, theirs.message);
});
