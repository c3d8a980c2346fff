// Shared by the fault, race, permission and stress tests (60- to 64-): raw
// access to a stream's metadata bytes, child processes that are always
// stopped, and hostile /dev/shm objects that are always removed.
import { closeSync, lstatSync, openSync, readFileSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';

import { ShmError } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';
import { uniqueStreamName } from './helpers.js';

export const Field = { version: 0, count: 1, dtypeCode: 2, ndim: 3, size: 4, writeSequence: 9, lockOwnerPid: 10, lockDepth: 11 };

export function metaPath(name) {
  return `/dev/shm/${baseName(name)}_meta`;
}

export function dataPath(name) {
  return `/dev/shm/${baseName(name)}`;
}

/** One float64 field of a stream's metadata, read from the /dev/shm file (not through a handle). */
export function rawField(name, index) {
  const fd = openSync(metaPath(name), 'r');
  try {
    const bytes = Buffer.alloc(8);
    readSync(fd, bytes, 0, 8, index * 8);
    return bytes.readDoubleLE(0);
  } finally {
    closeSync(fd);
  }
}

/** Overwrites one float64 field of a stream's metadata in the /dev/shm file, as another process would. */
export function setRawField(name, index, value) {
  const fd = openSync(metaPath(name), 'r+');
  try {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(value, 0);
    writeSync(fd, bytes, 0, 8, index * 8);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes sure a child started with run()/runNodePeer()/runPythonPeer() is gone
 * after the test: continued if stopped, then killed, then reaped.
 */
export function track(t, started) {
  t.after(async () => {
    const { child, done } = started;
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await done;
  });
  return started;
}

/** The state letter of /proc/PID/stat: R, S, T (stopped), Z... */
export function processState(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** true once the process is stopped (T; t under a tracer such as strace). */
export function isStopped(pid) {
  return /^[Tt]$/.test(processState(pid));
}

/** Waits (asynchronously) until predicate() is true; throws after timeout ms. */
export async function waitUntil(predicate, timeout, what) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs fn, which must throw a ShmError with code; returns the error and how long fn ran (ms). */
export function shmErrorOf(fn, code) {
  const started = performance.now();
  let thrown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  const elapsed = performance.now() - started;
  if (thrown === undefined) throw new Error(`expected a ShmError ${code}, but nothing was thrown`);
  if (!(thrown instanceof ShmError) || thrown.code !== code) {
    throw new Error(`expected a ShmError ${code}, got ${thrown?.name} ${thrown?.code}: ${thrown?.message}`, { cause: thrown });
  }
  return { error: thrown, elapsed };
}

/**
 * A unique stream name whose /dev/shm objects (files, directories, links,
 * FIFOs) and lock file are removed with rm after the test, whatever they are.
 */
export function hostileName(t, label = 'hostile') {
  const name = uniqueStreamName(label);
  t.after(() => removeObjects(name));
  return name;
}

export function removeObjects(name) {
  const base = baseName(name);
  for (const path of [`/dev/shm/${base}`, `/dev/shm/${base}_meta`, `/dev/shm/${base}_gpu`, lockPath(name)]) removePath(path);
}

/** Whatever is at path, symlinks included: rmSync({ force }) leaves a dangling symlink in place on Node 24. */
function removePath(path) {
  try {
    if (lstatSync(path).isDirectory()) rmSync(path, { recursive: true });
    else unlinkSync(path);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}
