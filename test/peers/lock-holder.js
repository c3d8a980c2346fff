// Takes the lock of an existing stream `depth` times (re-entrantly), prints
// "locked", then waits for a line "release" on stdin: releases once per line
// (printing "released <depth left>"), and exits once the lock is free.
// With `timeout` (ms), gives up if the lock stays taken that long: prints
// "busy" and exits.
// Usage: node lock-holder.js '{"name", "depth"?, "timeout"?}'
import { createInterface } from 'node:readline';

import { open } from '../../packages/tsshmem/dist/index.js';

const { name, depth = 1, timeout } = JSON.parse(process.argv[2]);
const stream = open(name);
try {
  await stream.acquire({ timeout });
} catch (error) {
  if (error.code !== 'ETIMEDOUT') throw error;
  console.log('busy');
  process.exit(0);
}
for (let i = 1; i < depth; i++) await stream.acquire();
console.log('locked');
let held = depth;
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'release') continue;
  stream.release();
  console.log(`released ${--held}`);
  if (held === 0) break;
}
stream.close();
