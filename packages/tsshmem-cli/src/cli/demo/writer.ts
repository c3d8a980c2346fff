/**
 * The demo's writer process: frames filled with their number, as fast as it
 * can or at a given rate, then a -1 frame.
 */
import { open } from 'tsshmem';
import type { DemoReport } from '../commands/demo.js';

const [name, secondsText, rateText] = process.argv.slice(2) as [string, string, string];
const interval = Number(rateText) > 0 ? 1000 / Number(rateText) : 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const stream = open(name);
const frame = new Float32Array(stream.size / 4);
const started = performance.now();
const until = started + Number(secondsText) * 1000;
let frames = 0;
while (performance.now() < until) {
  frame.fill(++frames);
  stream.write(frame);
  if (interval > 0) waitUntil(started + frames * interval);
}
const seconds = (performance.now() - started) / 1000;
stream.write(frame.fill(-1));
stream.close();
const report: DemoReport = { role: 'writer', frames, seconds };
process.stdout.write(JSON.stringify(report));

/** Sleeps while more than a millisecond is left, then spins: timers are too coarse for kHz rates. */
function waitUntil(time: number): void {
  for (let left = time - performance.now(); left > 0; left = time - performance.now()) {
    if (left > 1.5) Atomics.wait(sleeper, 0, 0, left - 1);
  }
}
