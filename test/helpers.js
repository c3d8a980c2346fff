// Shared by the test files: unique stream names that are always cleaned up,
// and child processes that run the peers in test/peers/.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { unlink } from '../packages/tsshmem/dist/index.js';
import { baseName, lockPath } from '../packages/tsshmem/dist/format/names.js';

export const peersDirectory = join(dirname(fileURLToPath(import.meta.url)), 'peers');
/** The tsshmem command line's entry point, run with process.execPath. */
export const cliPath = fileURLToPath(new URL('../packages/tsshmem-cli/dist/cli/main.js', import.meta.url));

let counter = 0;

/** A stream name unique to this process and call. */
export function uniqueStreamName(label) {
  return `tsshmem-test/${label}/${process.pid}/${++counter}/${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A stream name unique to this process and call, unlinked (segments and lock
 * file) after the test `t` ends, pass or fail.
 */
export function streamName(t, label = 'stream') {
  const name = uniqueStreamName(label);
  t.after(() => unlink(name));
  return name;
}

/** The /dev/shm entries and lock file of a stream that still exist. */
export function leftovers(name) {
  const base = baseName(name);
  const segments = readdirSync('/dev/shm').filter((entry) => entry === base || entry.startsWith(`${base}_`));
  return existsSync(lockPath(name)) ? [...segments, lockPath(name)] : segments;
}

/**
 * What this process holds of a stream: `descriptors`, the targets of its open
 * descriptors on the stream's shm objects or lock file, and `mappings`, its
 * lines in /proc/self/maps for the shm objects.
 */
export function heldResources(name) {
  const base = baseName(name);
  const targets = readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
  const isOurs = (path) => path.startsWith(`/dev/shm/${base}`) || path.startsWith(lockPath(name));
  return {
    descriptors: targets.filter(isOurs),
    mappings: readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes(`/dev/shm/${base}`)).length,
  };
}

/**
 * Starts a child process; resolves with { code, signal, stdout, stderr } when
 * it exits. `child` is available at once for kill() and stdin. detached: in
 * a process group of its own (its pid), which its children join.
 */
export function run(command, args, { timeout = 20000, env, input, detached = false } = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  if (input !== undefined) child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, lines: lineReader(child) };
}

/** Runs a Node peer script from test/peers with JSON arguments. */
export function runNodePeer(script, args = {}, options) {
  return run(process.execPath, [join(peersDirectory, script), JSON.stringify(args)], options);
}

/** Runs the Python peer (test/peers/pyshmem_peer.py) with a command and JSON arguments. */
export function runPythonPeer(command, args = {}, options) {
  return run('python3', [join(peersDirectory, 'pyshmem_peer.py'), command, JSON.stringify(args)], options);
}

/** A function that tells whether promise has settled (resolved or rejected) yet. */
export function settledTracker(promise) {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

/** runNodePeer, killed with SIGKILL (and awaited) after the test t ends if it still runs. */
export function startNodePeer(t, script, args, options) {
  return killedAfter(t, runNodePeer(script, args, options));
}

/**
 * startNodePeer, but the peer runs in a new pid namespace (unshare, as root):
 * there it is pid 1, and this process's pid names no process. It shares
 * /dev/shm and the lock directory, as a container sharing IPC would.
 * hostPid() resolves with the peer's pid as seen from here.
 */
export function startNodePeerInPidNamespace(t, script, args) {
  const peer = killedAfter(t, run('unshare', ['--pid', '--kill-child=SIGKILL', process.execPath, join(peersDirectory, script), JSON.stringify(args)]));
  const hostPid = async () => {
    const unsharePid = peer.child.pid;
    for (;;) {
      const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
      if (children !== '') return Number(children.split(' ')[0]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { ...peer, hostPid };
}

/**
 * startNodePeer, but the peer runs in a new network namespace (unshare, as
 * root), sharing /dev/shm, the lock directory and the pids, as a container
 * sharing IPC but not the network would: abstract Unix sockets of either
 * side are out of the other's reach.
 */
export function startNodePeerInNetworkNamespace(t, script, args) {
  return killedAfter(t, run('unshare', ['--net', process.execPath, join(peersDirectory, script), JSON.stringify(args)]));
}

/** runPythonPeer, killed with SIGKILL (and awaited) after the test t ends if it still runs. */
export function startPythonPeer(t, command, args, options) {
  return killedAfter(t, runPythonPeer(command, args, options));
}

/** "locked" or "busy": whether a child process takes the lock of stream name within timeout ms. */
export async function lockFromChild(t, name, timeout = 300) {
  const prober = startNodePeer(t, 'lock-holder.js', { name, timeout });
  const outcome = await prober.lines.waitFor(/^(locked|busy)$/, timeout + 20000);
  prober.child.kill('SIGKILL');
  await prober.done;
  return outcome;
}

/** System call numbers of the waits a lock waiter sleeps in, for /proc/PID/syscall. */
const SYSCALL_NUMBERS = {
  x64: { flock: 73, nanosleep: 35, clock_nanosleep: 230, futex: 202 },
  arm64: { flock: 32, nanosleep: 101, clock_nanosleep: 115, futex: 98 },
};

/**
 * What the main thread of process pid is doing now, from /proc/PID/syscall:
 * the name of the system call it is blocked in (among SYSCALL_NUMBERS), its
 * number for others, 'running', or null once the process is gone.
 */
export function currentSyscall(pid) {
  const numbers = SYSCALL_NUMBERS[process.arch];
  if (numbers === undefined) throw new Error(`no system call numbers for ${process.arch}: add them to SYSCALL_NUMBERS in test/helpers.js`);
  let text;
  try {
    text = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim();
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ESRCH') return null;
    throw error;
  }
  const number = Number(text.split(' ')[0]);
  if (!Number.isInteger(number)) return text;
  return Object.keys(numbers).find((name) => numbers[name] === number) ?? number;
}

/**
 * Waits until the main thread of a peer (from run()) is seen blocked in one of
 * the named system calls; fails if the peer exits first, or after timeout ms.
 */
export async function waitForSyscall(peer, names, { timeout = 20000, what = names.join(' or ') } = {}) {
  const deadline = performance.now() + timeout;
  const seen = new Set();
  for (;;) {
    if (peer.child.exitCode !== null || peer.child.signalCode !== null) {
      throw new Error(`the peer exited before it was seen in ${what} (seen: ${[...seen].join(', ')})`);
    }
    const now = currentSyscall(peer.child.pid);
    if (names.includes(now)) return now;
    seen.add(now);
    if (performance.now() > deadline) throw new Error(`the peer was not seen in ${what} within ${timeout} ms (seen: ${[...seen].join(', ')})`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function killedAfter(t, peer) {
  t.after(async () => {
    if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL');
    await peer.done;
  });
  return peer;
}

/** Resolves with the first stdout line of child that satisfies predicate. */
function lineReader(child) {
  let buffered = '';
  let closed = false;
  const lines = [];
  const waiters = [];
  const checkWaiters = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      checkWaiters();
    }
  });
  // One listener for all waits ('close' comes after the last stdout data).
  child.on('close', () => {
    closed = true;
    checkWaiters();
  });
  return {
    /** Waits for a line equal to text (or matching a RegExp); rejects once the child exits without it, or after timeout ms. */
    waitFor(text, timeout = 10000) {
      const matches = (line) => (text instanceof RegExp ? text.test(line) : line === text);
      return new Promise((resolve, reject) => {
        const settle = (outcome) => {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          outcome();
        };
        const check = () => {
          const line = lines.find(matches);
          if (line !== undefined) settle(() => resolve(line));
          else if (closed) settle(() => reject(new Error(`the child exited without printing a line ${text}; got: ${lines.join(' | ')}`)));
        };
        const timer = setTimeout(() => settle(() => reject(new Error(`no line ${text} from child within ${timeout} ms; got: ${lines.join(' | ')}`))), timeout);
        waiters.push(check);
        check();
      });
    },
  };
}

/**
 * Stores pid in the pid word of the ring reader entry at entryOffset
 * (ringStatus().readers[i].entryOffset) of stream name's metadata object:
 * a dead reader's pid reused by another process, as far as the table shows.
 */
export function overwriteReaderPid(name, entryOffset, pid) {
  const fd = openSync(join('/dev/shm', `${baseName(name)}_meta`), 'r+');
  try {
    const word = Buffer.alloc(4);
    word.writeUInt32LE(pid);
    writeSync(fd, word, 0, 4, entryOffset);
  } finally {
    closeSync(fd);
  }
}
