// `tsshmem view`: the page served to a real (headless Debian) Chromium shows
// live streams written by another process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import test from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';

import { chromium } from 'playwright-core';
import WebSocket from 'ws';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { cliPath, leftovers, peersDirectory, run, runNodePeer, runPythonPeer, streamName } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const URL_LINE = /^tsshmem view: http:\/\/\S+$/;
/** The printed address by default: 127.0.0.1, and a random token of 32 bytes in base64url as the first path segment. */
const TOKEN_URL = /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}\/$/;
const NOBODY = 65534;
/** uPlot's stroke for a 1-D stream (page/chart-style.js SERIES_COLORS.line, #56b6c2). */
const LINE_RGB = [0x56, 0xb6, 0xc2];
const WAIT_MS = 30000;

test('view shows a live 2-D stream as an image, a 1-D stream as a plot, and stops on SIGTERM', { timeout: 180000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: the viewer test drives Debian's chromium; npm test installs it (scripts/install-test-deps)`);
  const children = [];
  let browser;
  // Registered before streamName's hooks, so it runs first: no process still uses a stream when it is unlinked.
  t.after(async () => {
    await browser?.close();
    await Promise.all(children.map(stopProcess));
  });

  const imageName = streamName(t, 'view-image');
  const lineName = streamName(t, 'view-line');
  const cubeName = streamName(t, 'view-cube');
  const image = create(imageName, { shape: [48, 64], dtype: 'float32' });
  const line = create(lineName, { shape: [200], dtype: 'int64' });
  const cube = create(cubeName, { shape: [2, 8, 10], dtype: 'uint16' });
  t.after(() => [image, line, cube].forEach((stream) => stream.close()));
  line.write(BigInt64Array.from({ length: 200 }, (_, index) => BigInt((index - 100) ** 2)));
  cube.write(Uint16Array.from({ length: 160 }, (_, index) => index));

  const writer = runNodePeer('viewer-writer.js', { name: imageName, intervalMs: 20 }, { timeout: 170000 });
  children.push(writer);
  const viewer = run(process.execPath, [cliPath, 'view', imageName, lineName, cubeName, '--port', '0'], { timeout: 170000 });
  children.push(viewer);
  const url = await viewerUrl(viewer);
  assert.match(url, TOKEN_URL);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const response = await page.goto(url);
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), 'tsshmem view');

  await t.test('the frame counter advances and the image changes with the data', async () => {
    await waitForFrameCount(page, imageName, 1);
    const before = await imageSnapshot(page, imageName);
    assert.ok(before.colors > 1, `the image of a varying frame has ${before.colors} colour(s)`);
    await waitForFrameCount(page, imageName, before.frameCount + 3);
    const after = await imageSnapshot(page, imageName);
    assert.ok(after.frameCount > before.frameCount, `frame counter went from ${before.frameCount} to ${after.frameCount}`);
    assert.notEqual(after.digest, before.digest, 'the canvas pixels did not change while new frames arrived');
  });

  await t.test('a 1-D stream (int64, converted for the page) shows a line plot', async () => {
    await waitForFrameCount(page, lineName, 1);
    const panel = panelSelector(lineName);
    assert.equal(await page.locator(`${panel} canvas.image`).count(), 0);
    const linePixels = await page.evaluate(
      ({ selector, rgb }) => {
        const canvas = document.querySelector(`${selector} .line-plot canvas`);
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let matching = 0;
        for (let index = 0; index < data.length; index += 4) {
          const distance = Math.abs(data[index] - rgb[0]) + Math.abs(data[index + 1] - rgb[1]) + Math.abs(data[index + 2] - rgb[2]);
          if (data[index + 3] > 200 && distance < 60) matching++;
        }
        return matching;
      },
      { selector: panel, rgb: LINE_RGB },
    );
    assert.ok(linePixels > 100, `only ${linePixels} pixels of the line colour in the plot`);
  });

  await t.test('a 3-D stream shows the last two dimensions of its first slice and says so', async () => {
    await waitForFrameCount(page, cubeName, 1);
    const panel = panelSelector(cubeName);
    const shown = await page.evaluate((selector) => {
      const canvas = document.querySelector(`${selector} canvas.image`);
      return { width: canvas.width, height: canvas.height, note: document.querySelector(`${selector} .note`)?.textContent };
    }, panel);
    assert.deepEqual({ width: shown.width, height: shown.height }, { width: 10, height: 8 });
    assert.match(shown.note ?? '', /first slice, \[0, :, :\]/);
  });

  await t.test('SIGTERM stops the viewer cleanly and the page says so', async () => {
    viewer.child.kill('SIGTERM');
    const result = await viewer.done;
    assert.equal(result.code, 0, `the viewer exited with ${result.code ?? result.signal}: ${result.stderr}`);
    assert.equal(result.stderr, '');
    await page.waitForFunction(() => document.getElementById('connection').dataset.state === 'closed', undefined, { timeout: WAIT_MS });
  });
});

test('the server sends a frame only when asked, the newest one, counting the writes it skipped', { timeout: 60000 }, async (t) => {
  const { children, sockets } = stoppedAfter(t);
  const name = streamName(t, 'view-protocol');
  const stream = create(name, { shape: [4], dtype: 'float16' });
  t.after(() => stream.close());
  stream.write([1.5, -2, 0.25, 4]);

  const viewer = run(process.execPath, [cliPath, 'view', name, '--port', '0'], { timeout: 55000 });
  children.push(viewer);
  const url = new URL(await viewerUrl(viewer));
  const socket = new WebSocket(socketUrl(url), { origin: url.origin });
  sockets.push(socket);
  const messages = messageQueue(socket);

  const streams = JSON.parse(await messages.next());
  assert.deepEqual(streams.streams, [{ name, shape: [4], dtype: 'float16', kind: 'line', rows: 1, columns: 4, note: null }]);

  socket.send(JSON.stringify({ type: 'next', stream: 0 }));
  const first = decodeFrame(await messages.next());
  assert.deepEqual(
    { ...first, values: [...first.values] },
    { stream: 0, dtypeCode: 9, count: 1, dropped: 0, mean: 0.9375, min: -2, max: 4, values: [1.5, -2, 0.25, 4] },
  );

  for (let write = 2; write <= 11; write++) stream.write([write, 0, 0, 0]);
  await delay(300);
  assert.equal(messages.received(), 0, 'a frame came without a request');
  socket.send(JSON.stringify({ type: 'next', stream: 0 }));
  const newest = decodeFrame(await messages.next());
  assert.deepEqual({ count: newest.count, dropped: newest.dropped, values: [...newest.values] }, { count: 11, dropped: 9, values: [11, 0, 0, 0] });
});

test('view shows a stream created by pyshmem, addressed by its ps_ base name', { timeout: 60000 }, async (t) => {
  const { children, sockets } = stoppedAfter(t);
  const name = streamName(t, 'view-pyshmem');
  const created = await runPythonPeer('create', { name, shape: [3], dtype: 'float32' }).done;
  assert.equal(created.code, 0, created.stderr);
  const writer = open(name);
  t.after(() => writer.close());
  writer.write([1, 2, 3]);

  const viewer = run(process.execPath, [cliPath, 'view', baseName(name), '--port', '0'], { timeout: 55000 });
  children.push(viewer);
  const url = new URL(await viewerUrl(viewer));
  const socket = new WebSocket(socketUrl(url), { origin: url.origin });
  sockets.push(socket);
  const messages = messageQueue(socket);
  const [stream] = JSON.parse(await messages.next()).streams;
  assert.equal(stream.error, undefined, stream.error);
  assert.deepEqual({ name: stream.name, shape: stream.shape, dtype: stream.dtype }, { name: baseName(name), shape: [3], dtype: 'float32' });
  socket.send(JSON.stringify({ type: 'next', stream: 0 }));
  const frame = decodeFrame(await messages.next());
  assert.deepEqual([...frame.values], [1, 2, 3]);
});

test('the viewer refuses other hosts and WebSockets from other origins', { timeout: 60000 }, async (t) => {
  const children = [];
  t.after(() => Promise.all(children.map(stopProcess)));
  const name = streamName(t, 'view-origin');
  const stream = create(name, { shape: [2, 2] });
  t.after(() => stream.close());
  const viewer = run(process.execPath, [cliPath, 'view', name], { timeout: 55000 });
  children.push(viewer);
  const url = new URL(await viewerUrl(viewer));

  assert.equal((await fetch(url)).status, 200);
  assert.equal((await fetch(new URL('no-such-file.js', url))).status, 404);
  const rebound = await httpStatus(url, { host: `attacker.example:${url.port}` });
  assert.equal(rebound, 403);
  for (const origin of ['http://attacker.example', `http://localhost:${Number(url.port) + 1}`]) {
    const foreign = new WebSocket(socketUrl(url), { origin });
    const [error] = await once(foreign, 'error');
    assert.match(error.message, /403/, `a WebSocket from ${origin}`);
  }
});

test('without the token another local user (uid 65534) gets 403 over HTTP and on the WebSocket upgrade, and no frame; with it the same user gets the page and frames', { timeout: 60000 }, async (t) => {
  assert.equal(process.getuid(), 0, 'switching to a second user needs root: run the suite as root (CI does)');
  const children = [];
  t.after(() => Promise.all(children.map(stopProcess)));
  const name = streamName(t, 'view-token');
  const stream = create(name, { shape: [2, 2] });
  t.after(() => stream.close());
  stream.write([1, 2, 3, 4]);
  const viewer = run(process.execPath, [cliPath, 'view', name], { timeout: 55000 });
  children.push(viewer);
  const url = new URL(await viewerUrl(viewer));
  const token = url.pathname.split('/')[1];

  const client = run(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, join(peersDirectory, 'viewer-client.js'), JSON.stringify({ origin: url.origin, token })],
    { timeout: 30000 },
  );
  const exit = await client.done;
  assert.equal(exit.code, 0, exit.stderr);
  const { uid, results } = JSON.parse(exit.stdout);
  assert.equal(uid, NOBODY, 'the client ran as the second user');
  for (const refused of ['httpRoot', 'httpAsset', 'httpWrongToken']) {
    assert.deepEqual(results[refused], { status: 403, page: false }, refused);
  }
  for (const refused of ['socketWithoutToken', 'socketWrongToken']) {
    assert.deepEqual(results[refused], { status: 403, opened: false, messages: 0, frames: 0 }, refused);
  }
  assert.deepEqual(results.httpWithToken, { status: 200, page: true });
  assert.equal(results.httpAssetWithToken.status, 200);
  assert.deepEqual(results.socketWithToken, { status: 101, opened: true, messages: 2, frames: 1 }, 'with the token the second user gets the stream list and a frame');
});

test('--token sets the token; --no-token needs a loopback --host and --insecure', { timeout: 60000 }, async (t) => {
  const children = [];
  t.after(() => Promise.all(children.map(stopProcess)));
  const name = streamName(t, 'view-token-options');
  const stream = create(name, { shape: [2, 2] });
  t.after(() => stream.close());

  const fixedToken = 'my-own_token-0123456789';
  const fixed = run(process.execPath, [cliPath, 'view', name, '--token', fixedToken], { timeout: 55000 });
  children.push(fixed);
  const fixedUrl = new URL(await viewerUrl(fixed));
  assert.equal(fixedUrl.pathname, `/${fixedToken}/`);
  assert.equal((await fetch(fixedUrl)).status, 200);
  assert.equal((await fetch(new URL('/', fixedUrl))).status, 403);

  for (const [args, message] of [
    [['--no-token'], /--no-token lets any program of any user .* add --insecure/],
    [['--no-token', '--insecure', '--host', '0.0.0.0'], /--no-token needs a loopback --host .* not "0\.0\.0\.0"/],
    [['--token', 'too-short'], /--token <token>.* expected 16 to 256 characters/],
    [['--token', '../../etc/passwd-000'], /expected 16 to 256 characters/],
  ]) {
    const refused = await run(process.execPath, [cliPath, 'view', name, ...args], { timeout: 30000 }).done;
    assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
    assert.equal(refused.stdout, '', `${args.join(' ')} served anyway`);
    assert.match(refused.stderr, message);
  }

  const open = run(process.execPath, [cliPath, 'view', name, '--no-token', '--insecure'], { timeout: 55000 });
  children.push(open);
  const openUrl = new URL(await viewerUrl(open));
  assert.equal(openUrl.pathname, '/');
  assert.equal(openUrl.hostname, '127.0.0.1');
  assert.equal((await fetch(openUrl)).status, 200);
});

test('view of a stream that does not exist fails with exit code 3', { timeout: 60000 }, async (t) => {
  const name = streamName(t, 'view-missing');
  const result = await run(process.execPath, [cliPath, 'view', name, '--port', '0']).done;
  assert.equal(result.code, 3);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^tsshmem: stream ".*" does not exist/);
  assert.deepEqual(leftovers(name), []);
});

/** The page's WebSocket address: `ws` next to the page, under the token. */
/** The viewer processes and WebSockets a test starts, stopped after it even when it fails. */
function stoppedAfter(t) {
  const children = [];
  const sockets = [];
  t.after(async () => {
    sockets.forEach((socket) => socket.terminate());
    await Promise.all(children.map(stopProcess));
  });
  return { children, sockets };
}

function socketUrl(pageUrl) {
  return new URL('ws', pageUrl).href.replace(/^http/, 'ws');
}

/** The URL the viewer prints; fails at once, with its stderr, if it exits first. */
async function viewerUrl(viewer) {
  const exited = viewer.done.then((result) => {
    throw new Error(`tsshmem view exited with ${result.code ?? result.signal} before printing its URL: ${result.stderr}`);
  });
  // Promise.race handles `exited`: its later rejection, after a normal stop, goes nowhere.
  const line = await Promise.race([viewer.lines.waitFor(URL_LINE, WAIT_MS), exited]);
  return line.slice('tsshmem view: '.length);
}

function panelSelector(name) {
  return `.panel[data-stream=${JSON.stringify(name)}]`;
}

function waitForFrameCount(page, name, atLeast) {
  return page.waitForFunction(
    ({ selector, atLeast }) => Number(document.querySelector(`${selector} .frame-count`)?.textContent.replaceAll(',', '')) >= atLeast,
    { selector: panelSelector(name), atLeast },
    { timeout: WAIT_MS },
  );
}

/** The frame counter and a digest of the image canvas, read in one task (both change in the same animation frame). */
function imageSnapshot(page, name) {
  return page.evaluate((selector) => {
    const canvas = document.querySelector(`${selector} canvas.image`);
    const pixels = new Uint32Array(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.buffer);
    let digest = 0;
    for (const pixel of pixels) digest = (Math.imul(digest, 31) + pixel) >>> 0;
    return {
      frameCount: Number(document.querySelector(`${selector} .frame-count`).textContent.replaceAll(',', '')),
      digest,
      colors: new Set(pixels).size,
    };
  }, panelSelector(name));
}

/** Binary frame messages, decoded as page/frame.js does (layout: src/cli/viewer/protocol.ts). */
function decodeFrame(message) {
  const header = message.subarray(0, 56);
  const values = new Float32Array(message.buffer.slice(message.byteOffset + 56, message.byteOffset + message.length));
  return {
    stream: header.readUInt32LE(0),
    dtypeCode: header.readUInt32LE(4),
    count: header.readDoubleLE(8),
    dropped: header.readDoubleLE(24),
    mean: header.readDoubleLE(32),
    min: header.readDoubleLE(40),
    max: header.readDoubleLE(48),
    values,
  };
}

/** The socket's messages in order: text as strings, binary as Buffers. */
function messageQueue(socket) {
  const queued = [];
  const waiting = [];
  socket.on('message', (data, isBinary) => {
    const message = isBinary ? data : data.toString();
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  });
  return {
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()) : new Promise((resolve) => waiting.push(resolve))),
    received: () => queued.length,
  };
}

/** The status of a GET of url sent with extra headers (fetch cannot set Host). */
function httpStatus(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
}

async function stopProcess({ child, done }) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await done;
}
