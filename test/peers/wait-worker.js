// A worker thread (not a process): opens the stream, posts "waiting", blocks
// in readNewSync() until a new write lands and posts what it read. Then it
// lets an asynchronous wait time out and ends with its handle still open: the
// worker must still exit normally.
// workerData: { name, timeout }
import { parentPort, workerData } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const { name, timeout } = workerData;
const stream = open(name);
parentPort.postMessage('waiting');
const frame = stream.readNewSync({ timeout });
parentPort.postMessage({ values: Array.from(frame), lastReadCount: stream.lastReadCount });
const settled = await stream.next({ timeout: 20 }).then(
  () => 'frame',
  (error) => error.code,
);
parentPort.postMessage({ settled });
