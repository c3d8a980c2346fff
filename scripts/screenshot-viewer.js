// Saves docs/viewer.png: `tsshmem view` in headless Chromium showing a
// moving 256x256 float32 pattern and a 1-D signal, both written here at 60 Hz.
// Needs a build (npm run build) and /usr/bin/chromium (npm test installs it: scripts/install-test-deps).
// Creates the streams demo/camera and demo/spectrum (fails if they exist) and removes them.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { create } from '../packages/tsshmem/dist/index.js';

const MAIN = fileURLToPath(new URL('../packages/tsshmem-cli/dist/cli/main.js', import.meta.url));
const OUTPUT = fileURLToPath(new URL('../docs/viewer.png', import.meta.url));
const WRITE_HZ = 60;
const SIZE = 256;
const POINTS = 1024;
/** Writes each panel must have counted before the shot, so the statistics charts have some history. */
const WRITES_BEFORE_SHOT = 240;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let camera;
let spectrum;
let writer;
let viewer;
let browser;
try {
  camera = create('demo/camera', { shape: [SIZE, SIZE], dtype: 'float32' });
  spectrum = create('demo/spectrum', { shape: [POINTS], dtype: 'float32' });
  const started = performance.now();
  writer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    camera.write(cameraFrame(seconds));
    spectrum.write(spectrumFrame(seconds));
  }, 1000 / WRITE_HZ);
  viewer = spawn(process.execPath, [MAIN, 'view', camera.name, spectrum.name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await viewerUrl(viewer);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(url);
  await page.waitForFunction(
    (writes) => {
      const counts = [...document.querySelectorAll('.frame-count')].map((counter) => Number(counter.textContent.replaceAll(',', '')));
      return counts.length === 2 && counts.every((count) => count >= writes);
    },
    WRITES_BEFORE_SHOT,
    { timeout: 60000 },
  );
  await page.screenshot({ path: OUTPUT, fullPage: true });
  console.log(`saved ${OUTPUT}`);
} finally {
  clearInterval(writer);
  await browser?.close();
  if (viewer && viewer.exitCode === null) {
    viewer.kill('SIGTERM');
    await once(viewer, 'exit');
  }
  camera?.unlink();
  spectrum?.unlink();
}

/** Travelling waves plus a ring spreading from a point that circles the centre. */
function cameraFrame(seconds) {
  const frame = new Float32Array(SIZE * SIZE);
  const centreX = SIZE / 2 + 60 * Math.cos(seconds * 0.8);
  const centreY = SIZE / 2 + 60 * Math.sin(seconds * 0.8);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const ring = Math.sin(Math.hypot(x - centreX, y - centreY) * 0.12 - seconds * 4);
      frame[y * SIZE + x] = ring + 0.6 * Math.sin(x * 0.045 + seconds) * Math.cos(y * 0.03 - seconds * 0.7);
    }
  }
  return frame;
}

/** A wandering peak on a slow carrier, with a little noise. */
function spectrumFrame(seconds) {
  const frame = new Float32Array(POINTS);
  const peak = POINTS / 2 + 300 * Math.sin(seconds * 0.9);
  for (let index = 0; index < POINTS; index++) {
    const envelope = Math.exp(-(((index - peak) / 90) ** 2));
    frame[index] = envelope * Math.cos(index * 0.15 - seconds * 5) + 0.2 * Math.sin(index * 0.01 + seconds) + 0.05 * (Math.random() - 0.5);
  }
  return frame;
}

function viewerUrl(child) {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      const match = /^tsshmem view: (http\S+)$/m.exec(output);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`tsshmem view exited with code ${code} before printing its URL`)));
  });
}
