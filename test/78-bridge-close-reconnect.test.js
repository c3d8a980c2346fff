// Closing a bridge side while its client is reconnecting must never crash
// the process: a real nats-server is stopped (SIGKILL or SIGTERM) under a
// Publisher or Subscriber running in a child process (test/peers/bridge-closer.js),
// which is closed at several moments of the reconnection; the child must
// then exit 0 with nothing on stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

import { create } from '../packages/tsshmem/dist/index.js';
import { peersDirectory, streamName } from './helpers.js';
import { startBridge, startNatsServer } from './bridge-helpers.js';

const TEST_TIMEOUT = 60000;
const CHILD_TIMEOUT = 20000;

/** The bridge side in a child process: `command(line)` on its stdin; `next(event)` resolves with its first JSON line of that event. */
function startCloser(t, settings) {
  const child = spawn(process.execPath, [join(peersDirectory, 'bridge-closer.js'), JSON.stringify(settings)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = new Set();
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await done;
  });
  const events = () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
  return {
    /** The child's exit; it must come within CHILD_TIMEOUT after close(). */
    exit() {
      let timer;
      const late = new Promise((resolve, reject) => (timer = setTimeout(() => reject(new Error(`the child did not exit within ${CHILD_TIMEOUT} ms; stdout: ${stdout}; stderr: ${stderr}`)), CHILD_TIMEOUT)));
      return Promise.race([done, late]).finally(() => clearTimeout(timer));
    },
    command(line) {
      child.stdin.end(`${line}\n`);
    },
    next(event) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${event} within ${CHILD_TIMEOUT} ms; stderr: ${stderr}`)), CHILD_TIMEOUT);
        const look = () => {
          const record = events().find((record) => record.event === event);
          if (record !== undefined) finish(null, record);
        };
        const ended = () => setImmediate(() => finish(new Error(`the child ended without ${event}: ${stderr}`)));
        const finish = (error, record) => {
          clearTimeout(timer);
          waiters.delete(look);
          child.off('close', ended);
          if (error === null) resolve(record);
          else reject(error);
        };
        waiters.add(look);
        child.once('close', ended);
        look();
      });
    },
  };
}

/** A `tsshmem bridge publish` of a stream written every 5 ms, for a subscriber to receive; resolves with its subject. */
async function startPublishing(t, server, mode) {
  const name = streamName(t, 'bridge-close-source');
  const source = create(name, { shape: [64], dtype: 'float32' });
  const publisher = startBridge(t, 'publish', [name, '--server', server.url, ...(mode === 'lossless' ? ['--lossless'] : [])]);
  const { subject } = await publisher.next((record) => record.event === 'started', 'the publisher started');
  let value = 0;
  const writer = setInterval(() => source.write(new Float32Array(64).fill(++value)), 5);
  t.after(() => {
    clearInterval(writer);
    source.close();
  });
  return subject;
}

/** Listens on the stopped server's port and holds the connections it accepts: the client's dial is then in progress. */
async function holdDials(t, port) {
  const sockets = new Set();
  let dialled;
  const dial = new Promise((resolve) => (dialled = resolve));
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    dialled();
  });
  await new Promise((resolve, reject) => listener.once('error', reject).listen(port, '127.0.0.1', resolve));
  const release = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => listener.close(resolve));
  };
  t.after(release);
  return { dial, release };
}

/**
 * close() at a moment of the reconnection, the server stopped meanwhile:
 * server-end: from the client's socket's 'end' event (the server's FIN seen, the socket not yet closed);
 * stopped: at once after the server exited; disconnected: once the bridge reports it;
 * dialling: while a reconnection attempt has a TCP connection and awaits the server's INFO;
 * restarted: at once after the server is up again; reconnected: once the bridge counts the reconnection.
 */
async function stopServerAndClose(moment, signal, server, closer, t) {
  if (moment === 'server-end') {
    closer.command('close-on-server-end');
    await closer.next('armed');
  }
  await server.stop(signal);
  if (moment === 'stopped') closer.command('close');
  if (moment === 'disconnected') closer.command('close-when-disconnected');
  if (moment === 'dialling') {
    const held = await holdDials(t, server.port);
    await held.dial;
    closer.command('close');
    await closer.next('closed');
    await held.release();
  }
  if (moment === 'restarted' || moment === 'reconnected') await server.start();
  if (moment === 'restarted') closer.command('close');
  if (moment === 'reconnected') closer.command('close-when-reconnected');
}

const SIDES = [
  { role: 'subscriber', mode: 'latest', label: 'latest subscriber' },
  { role: 'subscriber', mode: 'lossless', label: 'lossless subscriber' },
  { role: 'subscriber', mode: 'lossless', label: 'lossless subscriber waiting for its publisher', waiting: true },
  { role: 'publisher', mode: 'latest', label: 'latest publisher' },
  { role: 'publisher', mode: 'lossless', label: 'lossless publisher' },
];
const SIGNALS = ['SIGKILL', 'SIGTERM'];
const MOMENTS = ['server-end', 'stopped', 'disconnected', 'dialling', 'restarted', 'reconnected'];

for (const { role, mode, label, waiting = false } of SIDES) {
  test(`a ${label} closed while its client reconnects exits cleanly`, { timeout: TEST_TIMEOUT * 4 }, async (t) => {
    for (const signal of SIGNALS) {
      for (const moment of MOMENTS) {
        await t.test(`server stopped with ${signal}, close() ${moment}`, { timeout: TEST_TIMEOUT }, async (t) => {
          const server = await startNatsServer(t);
          const stream = streamName(t, `bridge-close-${role}`);
          const subject = role === 'subscriber' && !waiting ? await startPublishing(t, server, mode) : undefined;
          const closer = startCloser(t, { role, lossless: mode === 'lossless', server: server.url, stream, subject });
          await closer.next('ready');
          await stopServerAndClose(moment, signal, server, closer, t);
          const { code, signal: killedBy, stderr } = await closer.exit();
          assert.equal(stderr, '', 'nothing on stderr');
          assert.deepEqual([code, killedBy], [0, null], 'the child exits 0');
        });
      }
    }
  });
}
