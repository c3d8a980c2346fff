// Waits with next() on a stream nobody writes and prints the CPU time this
// whole process used over `ms` of that idle wait, after a warm-up:
// {"cpuMs", "wallMs", "settled"}. Then aborts the wait and ends.
// Usage: node idle-waiter.js '{"name", "ms", "warmupMs"}'
import { setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../dist/index.js';

const { name, ms, warmupMs = 200 } = JSON.parse(process.argv[2]);
const stream = open(name);
const controller = new AbortController();
const pending = stream.next({ signal: controller.signal }).then(
  () => 'frame',
  (error) => error.name,
);
await sleep(warmupMs);
const cpuBefore = process.cpuUsage();
const start = performance.now();
await sleep(ms);
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - start;
controller.abort();
const settled = await pending;
stream.close();
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, settled }));
