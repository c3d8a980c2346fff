/** The demo's writer process: frames filled with their number, as fast as it can, then a -1 frame. */
import { open } from '../../index.js';
import type { DemoReport } from '../commands/demo.js';

const [name, secondsText] = process.argv.slice(2) as [string, string];
const stream = open(name);
const frame = new Float32Array(stream.size / 4);
const started = performance.now();
const until = started + Number(secondsText) * 1000;
let frames = 0;
while (performance.now() < until) {
  frame.fill(++frames);
  stream.write(frame);
}
const seconds = (performance.now() - started) / 1000;
stream.write(frame.fill(-1));
stream.close();
const report: DemoReport = { role: 'writer', frames, seconds };
process.stdout.write(JSON.stringify(report));
