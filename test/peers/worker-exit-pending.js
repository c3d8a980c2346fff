// Ends worker threads while a next() of theirs is pending: one terminated
// from outside, one calling process.exit() itself. Prints "survived" if this
// process outlives both. The same file is the workers' script.
// Usage: node worker-exit-pending.js '{"name"}'
import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

if (isMainThread) {
  const { name } = JSON.parse(process.argv[2]);
  for (const exitItself of [false, true]) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { name, exitItself } });
    const exited = once(worker, 'exit');
    if (!exitItself) {
      await once(worker, 'message');
      await worker.terminate();
    }
    await exited;
  }
  console.log('survived');
} else {
  const pending = open(workerData.name).next();
  if (workerData.exitItself) setTimeout(() => process.exit(0), 20);
  else parentPort.postMessage('waiting');
  await pending;
}
