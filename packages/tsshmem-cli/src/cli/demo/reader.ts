/** The demo's reader process: waits for every next frame until the -1 frame, checking each is whole. */
import { open, RingStream } from 'tsshmem';
import type { DemoReport } from '../commands/demo.js';
import { READY_LINE } from './handshake.js';

const [name, secondsText] = process.argv.slice(2) as [string, string];
const stream = open(name);
// Registered now, a ring reader gets every frame from the writer's first one.
if (stream instanceof RingStream) stream.register();
process.stdout.write(`${READY_LINE}\n`);
const frame = new Float32Array(stream.size / 4);
let frames = 0;
let torn = 0;
let started = 0;
for (;;) {
  await stream.next({ out: frame, timeout: Number(secondsText) * 1000 + 5000 });
  if (started === 0) started = performance.now();
  const value = frame[0]!;
  if (value === -1) break;
  if (!isUniform(frame, value)) torn++;
  frames++;
}
const seconds = (performance.now() - started) / 1000;
// The -1 frame is not a data frame: it does not count as seen, nor do writes it hides.
const skipped = stream.totalMissedWrites;
stream.close();
const report: DemoReport = { role: 'reader', frames, skipped, torn, seconds };
process.stdout.write(JSON.stringify(report));

function isUniform(values: Float32Array, value: number): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== value) return false;
  return true;
}
