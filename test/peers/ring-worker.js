// A worker thread on a ring stream, for test/45-ring.test.js: registers,
// says "opened", holds the next frame as a sample, says "holding", then ends
// without closing (process.exit in the worker, or stays until terminate()).
import { parentPort, workerData } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const reader = open(workerData.name);
reader.register();
parentPort.postMessage('opened');
globalThis.kept = await reader.nextSample({ timeout: 20000 });
parentPort.postMessage('holding');
parentPort.once('message', () => {
  if (workerData.exit) process.exit(0);
});
setInterval(() => {}, 1 << 30);
