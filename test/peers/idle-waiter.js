// Waits on a stream nobody writes and reports what `ms` of that idle wait
// cost this whole process, after a warm-up: {"cpuMs", "wallMs", "wakes",
// "settled"} on the last stdout line (wakes: voluntary context switches, one
// per check of the count). method "next" (the default) waits in the event
// loop, and the wait is then aborted; method "readNewSync" blocks a worker
// thread, whose wait a write then ends. Prints "waiting" once the wait is
// pending (or about to block); with "go": true it then waits for a line on
// stdin before the warm-up.
// Usage: node idle-waiter.js '{"name", "ms", "method", "warmupMs", "go"}'
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const { name, ms, method = 'next', warmupMs = 200, go = false } = JSON.parse(process.argv[2]);
const wait = method === 'next' ? awaitNext() : await blockInReadNewSync();
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
const settled = await wait.end();
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, wakes, settled }));

/** A pending next(); end() aborts it and resolves with how it settled. */
function awaitNext() {
  const stream = open(name);
  const controller = new AbortController();
  const pending = stream.next({ signal: controller.signal }).then(
    () => 'frame',
    (error) => error.name,
  );
  return {
    async end() {
      controller.abort();
      const settled = await pending;
      stream.close();
      return settled;
    },
  };
}

/** A worker blocked in readNewSync(); end() writes once and resolves with how its wait settled. */
async function blockInReadNewSync() {
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
  return {
    async end() {
      const ending = once(worker, 'message');
      const writer = open(name);
      writer.write(new Float32Array(writer.size / 4));
      writer.close();
      const [settled] = await ending;
      return settled;
    },
  };
}
