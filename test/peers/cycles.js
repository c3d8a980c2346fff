// Runs create / write / read / unlink cycles on streams `${prefix}/${i}` and
// prints, as JSON, the open descriptor count and RSS after `warmup` cycles and
// after `cycles` more, plus the /dev/shm mappings left.
// Usage: node cycles.js '{"prefix", "warmup", "cycles", "elements"}'
import { readdirSync, readFileSync } from 'node:fs';

import { create } from '../../packages/tsshmem/dist/index.js';

const { prefix, warmup, cycles, elements } = JSON.parse(process.argv[2]);
const frame = new Float64Array(elements);
const out = new Float64Array(elements);

function cycle(i) {
  const stream = create(`${prefix}/${i}`, { shape: [elements], dtype: 'float64' });
  stream.write(frame.fill(i));
  stream.read({ out });
  if (out[elements - 1] !== i) throw new Error(`cycle ${i} read ${out[elements - 1]}`);
  stream.read();
  stream.unlink();
}

function measure() {
  globalThis.gc?.();
  const shmMappings = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('/dev/shm/ps_')).length;
  return { fds: readdirSync('/proc/self/fd').length, rss: process.memoryUsage().rss, shmMappings };
}

for (let i = 0; i < warmup; i++) cycle(i);
const before = measure();
for (let i = warmup; i < warmup + cycles; i++) cycle(i);
const after = measure();
console.log(JSON.stringify({ before, after }));
