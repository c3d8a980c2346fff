// The NATS bridge tests' tools: a real nats-server on a free loopback port,
// `tsshmem bridge` processes that report JSON lines, and a second "host":
// a mount namespace with its own /dev/shm and lock directory, so that a
// frame reaches it only through NATS.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { cliPath } from './helpers.js';

export { cliPath };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const libraryUrl = pathToFileURL(join(root, 'packages', 'tsshmem', 'dist', 'index.js')).href;
const SERVER_READY = /Server is ready/;

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function makeTemporaryDirectory(label) {
  return mkdtempSync(join(tmpdir(), `tsshmem-${label}-`));
}

function removeDirectory(path) {
  rmSync(path, { recursive: true, force: true });
}

/** A new temporary directory, removed after t. */
export function temporaryDirectory(t, label) {
  const path = makeTemporaryDirectory(label);
  t.after(() => removeDirectory(path));
  return path;
}

/**
 * nats-server on 127.0.0.1; stop() and start() again keep its port and store
 * (a restart). Options: jetstream (default true: a store in a temporary
 * directory), config (the text of a configuration file: authorization, TLS,
 * operator), args (more command-line options, e.g. --auth TOKEN).
 */
export async function startNatsServer(t, { jetstream = true, config, args = [] } = {}) {
  const port = await freePort();
  // Removed by the same hook that stops the server, once it stopped writing
  // there (node:test runs a test's after hooks in the order they were added).
  const directory = makeTemporaryDirectory('nats-server');
  const serverArgs = ['-a', '127.0.0.1', '-p', String(port), ...args];
  if (jetstream) serverArgs.push('-js', '-sd', join(directory, 'store'));
  if (config !== undefined) {
    writeFileSync(join(directory, 'server.conf'), config);
    serverArgs.push('-c', join(directory, 'server.conf'));
  }
  const server = {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: null,
    async start() {
      const child = spawn('nats-server', serverArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
      this.process = child;
      let log = '';
      await new Promise((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (chunk) => {
          log += chunk;
          if (SERVER_READY.test(log)) resolve();
        });
        child.on('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
      });
    },
    async stop(signal = 'SIGKILL') {
      const child = this.process;
      if (child === null || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
  t.after(async () => {
    await server.stop();
    removeDirectory(directory);
  });
  await server.start();
  return server;
}

/**
 * A child process whose stdout is JSON lines; `next(predicate)` resolves
 * with the first line (parsed) that satisfies it, seen or to come.
 */
export function startJsonProcess(t, command, args, { env, timeout = 30000 } = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const records = [];
  const waiters = new Set();
  let buffered = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        records.push(JSON.parse(line));
      } catch {
        records.push({ event: 'text', line });
      }
      for (const waiter of [...waiters]) waiter();
    }
  });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  const watched = {
    child,
    records,
    done,
    get stderr() {
      return stderr;
    },
    next(predicate, label = String(predicate)) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const record = records.find(predicate);
          if (record === undefined) return;
          cleanup();
          resolve(record);
        };
        const onClose = () => setTimeout(() => {
          check();
          cleanup();
          reject(new Error(`process ended without ${label}; stderr: ${stderr}; lines: ${JSON.stringify(records.slice(-3))}`));
        }, 0);
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${label} within ${timeout} ms; stderr: ${stderr}; lines: ${JSON.stringify(records.slice(-3))}`));
        }, timeout);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('close', onClose);
        };
        waiters.add(check);
        child.once('close', onClose);
        check();
      });
    },
    /** The latest status line, once one satisfies predicate. */
    status(predicate, label) {
      const records = watched.records;
      const from = records.length;
      return watched.next((record) => record.event === 'status' && records.indexOf(record) >= from && predicate(record), label);
    },
  };
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await done;
  });
  return watched;
}

/** `tsshmem bridge ROLE ...args` on this host, JSON status lines every 50 ms. */
export function startBridge(t, role, args, options) {
  return startJsonProcess(t, process.execPath, [cliPath, 'bridge', role, '--json', '--interval', '50', ...args], options);
}

/**
 * A second host for the subscriber: a private mount namespace with a tmpfs
 * on /dev/shm and a private TMPDIR (its lock directory). It ends with its
 * processes; `run()` runs more commands inside it.
 */
export function startRemoteBridge(t, role, args) {
  const tmp = makeTemporaryDirectory('remote-host');
  const script = 'mount -t tmpfs tmpfs /dev/shm && exec "$0" "$@"';
  const bridge = startJsonProcess(t, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, cliPath, 'bridge', role, '--json', '--interval', '50', ...args], {
    env: { TMPDIR: tmp },
  });
  // After the hook that ends the bridge, which uses it as its TMPDIR.
  t.after(() => removeDirectory(tmp));
  return {
    bridge,
    /** Runs a command inside the namespace; resolves with { code, stdout, stderr }. */
    run(command, commandArgs) {
      return new Promise((resolve) => {
        const child = spawn('nsenter', ['--target', String(bridge.child.pid), '--mount', '--', command, ...commandArgs], {
          env: { ...process.env, TMPDIR: tmp },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
  };
}

/** A node script run on the remote host: the sha256 of the stream's payload, its count and first value. */
const DIGEST_SCRIPT = `
  const { open } = await import(${JSON.stringify(libraryUrl)});
  const { createHash } = await import('node:crypto');
  const stream = open(process.argv[1]);
  const frame = stream.read();
  const sha256 = createHash('sha256').update(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)).digest('hex');
  console.log(JSON.stringify({ count: stream.count, sha256, first: Number(frame[0]), shape: stream.shape, dtype: stream.dtype }));`;

/** The count, sha256 and first value of stream `name` on the remote host. */
export async function remoteDigest(remote, name) {
  const result = await remote.run(process.execPath, ['--input-type=module', '-e', DIGEST_SCRIPT, name]);
  if (result.code !== 0) throw new Error(`reading ${name} on the remote host failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

export function sha256(array) {
  return createHash('sha256').update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)).digest('hex');
}
