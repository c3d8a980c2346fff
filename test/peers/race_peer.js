// A Node peer for the race tests (62-). Prints one JSON line.
//
// Usage: node race_peer.js '{"role": ..., "name": ..., ...}'
//   create  {name, shape, dtype, go}       prints "ready", busy-polls until the file `go`
//                                          exists, then create(); if that fails, open()s at
//                                          once (racing the winner, which may still be creating)
//   open    {name, timeout}                prints "ready", busy-polls until the metadata object
//                                          appears, notes what it looks like at that instant,
//                                          then open()s
import { closeSync, openSync, readSync, statSync } from 'node:fs';

import { create, open } from '../../packages/tsshmem/dist/index.js';
import { baseName } from '../../packages/tsshmem/dist/format/names.js';

const args = JSON.parse(process.argv[2]);
const describe = (error) => ({ code: error.code, errorName: error.name, message: error.message });
const report = (result) => process.stdout.write(JSON.stringify(result) + '\n');

function tryOpen() {
  const started = performance.now();
  try {
    const stream = open(args.name);
    const result = { ok: true, shape: [...stream.shape], dtype: stream.dtype, elapsed: performance.now() - started };
    stream.close();
    return result;
  } catch (error) {
    return { ok: false, ...describe(error), elapsed: performance.now() - started };
  }
}

process.stdout.write('ready\n');

if (args.role === 'create') {
  // Racers on other cores see the file appear within microseconds of each other.
  const deadline = Date.now() + 60000;
  while (statSync(args.go, { throwIfNoEntry: false }) === undefined && Date.now() < deadline);
  let created;
  try {
    create(args.name, { shape: args.shape, dtype: args.dtype }).close();
    created = { created: true };
  } catch (error) {
    created = { created: false, ...describe(error), open: tryOpen() };
  }
  report(created);
} else if (args.role === 'open') {
  const meta = `/dev/shm/${baseName(args.name)}_meta`;
  const data = `/dev/shm/${baseName(args.name)}`;
  const deadline = Date.now() + args.timeout;
  let seen = null;
  while (seen === null && Date.now() < deadline) {
    const stat = statSync(meta, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    // What a racing opener finds: the object's size, its version field, whether data exists yet.
    let version = null;
    try {
      const fd = openSync(meta, 'r');
      const bytes = Buffer.alloc(8);
      if (readSync(fd, bytes, 0, 8, 0) === 8) version = bytes.readDoubleLE(0);
      closeSync(fd);
    } catch {
      // removed again
    }
    seen = { metaBytes: stat.size, version, dataExists: statSync(data, { throwIfNoEntry: false }) !== undefined };
  }
  report({ seen, ...(seen === null ? { ok: false, code: 'NEVER_APPEARED' } : tryOpen()) });
} else {
  throw new Error(`unknown role ${args.role}`);
}
