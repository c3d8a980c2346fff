// A worker thread that calls open(workerData.name) once and posts back what
// happened: { ok, shape, dtype } or { code, errorName, message }, with the
// milliseconds open() took. Lets tests wait out open()'s settle window for
// many streams at once.
import { parentPort, workerData } from 'node:worker_threads';

import { open } from '../../packages/tsshmem/dist/index.js';

const started = performance.now();
try {
  const stream = open(workerData.name);
  const result = { ok: true, shape: [...stream.shape], dtype: stream.dtype, elapsed: performance.now() - started };
  stream.close();
  parentPort.postMessage(result);
} catch (error) {
  parentPort.postMessage({
    ok: false,
    code: error.code,
    errorName: error.name,
    isShmError: error.constructor.name === 'ShmError',
    message: error.message,
    elapsed: performance.now() - started,
  });
}
