// Waits with next() on a stream nobody writes and reports what `ms` of that
// idle wait cost this whole process, after a warm-up: {"cpuMs", "wallMs",
// "wakes", "settled"} on the last stdout line (wakes: voluntary context
// switches, one per timer check). Prints "waiting" once the wait is pending;
// with "go": true it then waits for a line on stdin before the warm-up.
// Then aborts the wait and ends.
// Usage: node idle-waiter.js '{"name", "ms", "warmupMs", "go"}'
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../packages/tsshmem/dist/index.js';

const { name, ms, warmupMs = 200, go = false } = JSON.parse(process.argv[2]);
const stream = open(name);
const controller = new AbortController();
const pending = stream.next({ signal: controller.signal }).then(
  () => 'frame',
  (error) => error.name,
);
console.log('waiting');
if (go) {
  const input = createInterface({ input: process.stdin });
  await once(input, 'line');
  input.close();
  process.stdin.destroy();
}
await sleep(warmupMs);
const cpuBefore = process.cpuUsage();
const wakesBefore = process.resourceUsage().voluntaryContextSwitches;
const start = performance.now();
await sleep(ms);
const cpu = process.cpuUsage(cpuBefore);
const wakes = process.resourceUsage().voluntaryContextSwitches - wakesBefore;
const wallMs = performance.now() - start;
controller.abort();
const settled = await pending;
stream.close();
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, wakes, settled }));
