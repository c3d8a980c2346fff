// idle-waiter.js for readNewSync(): a worker thread blocks in readNewSync()
// on a stream nobody writes while the main thread reports what `ms` of that
// idle wait cost this whole process, after a warm-up: {"cpuMs", "wallMs",
// "wakes", "settled"} on the last stdout line (wakes: voluntary context
// switches, one per sleep slice). Prints "waiting" once the worker is about
// to wait; with "go": true it then waits for a line on stdin before the
// warm-up. Then writes once, which ends the worker's wait, and ends.
// Usage: node idle-sync-waiter.js '{"name", "ms", "warmupMs", "go"}'
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const { name, ms, warmupMs = 200, go = false } = JSON.parse(process.argv[2]);
const worker = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.library).then(({ open }) => {
    const stream = open(workerData.name);
    parentPort.postMessage('started');
    let settled = 'frame';
    try { stream.readNewSync({ timeout: 60000 }); } catch (error) { settled = error.code; }
    stream.close();
    parentPort.postMessage(settled);
  });`,
  { eval: true, workerData: { name, library: new URL('../../packages/tsshmem/dist/index.js', import.meta.url).href } },
);
const [started] = await once(worker, 'message');
if (started !== 'started') throw new Error(`worker said ${started}`);
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
const ending = once(worker, 'message');
const writer = open(name);
writer.write(new Float32Array(writer.size / 4));
writer.close();
const [settled] = await ending;
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, wakes, settled }));
