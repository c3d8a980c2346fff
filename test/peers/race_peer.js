// A Node peer for the race tests (62-). Prints JSON lines.
//
// Usage: node race_peer.js '{"role": ..., ...}'
//   create         {name, shape, dtype, go}   prints "ready", busy-polls until the file `go`
//                                             exists, then create(); if that fails, open()s at
//                                             once (racing the winner, which may still be creating)
//   create-rounds  {names, shape, dtype, go}  for each line R on stdin, prints "ready R",
//                                             busy-polls until the file `go`-R exists, then
//                                             create()s names[R] and closes it; prints
//                                             {round: R, created}
//   open-rounds    {names, timeout}           for each line R on stdin, prints "polling R" and
//                                             busy-polls until the metadata object of names[R]
//                                             appears, notes what it looks like at that instant,
//                                             then open()s it; prints {round: R, seen, retries,
//                                             ok, ...}, where retries counts the times open()
//                                             found the stream half-made and waited to retry
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { create, open } from '../../packages/tsshmem/dist/index.js';
import { baseName } from '../../packages/tsshmem/dist/format/names.js';

const args = JSON.parse(process.argv[2]);
const describe = (error) => ({ code: error.code, errorName: error.name, message: error.message });
const report = (result) => process.stdout.write(JSON.stringify(result) + '\n');

function tryOpen(name) {
  const started = performance.now();
  try {
    const stream = open(name);
    const result = { ok: true, shape: [...stream.shape], dtype: stream.dtype, elapsed: performance.now() - started };
    stream.close();
    return result;
  } catch (error) {
    return { ok: false, ...describe(error), elapsed: performance.now() - started };
  }
}

/**
 * tryOpen(), counting open()'s retries: open() sleeps with Atomics.wait
 * between its tries of a stream a creator is still filling in
 * (src/stream/segments.ts, openSegments), and only then.
 */
function tryOpenCountingRetries(name) {
  const wait = Atomics.wait;
  let retries = 0;
  Atomics.wait = (...waitArguments) => {
    retries++;
    return wait(...waitArguments);
  };
  try {
    const result = tryOpen(name);
    return { retries, ...result };
  } finally {
    Atomics.wait = wait;
  }
}

/** What a racing opener finds when the metadata object appears: its size, its version field, whether data exists yet. */
function pollUntilMetadataAppears(name) {
  const meta = `/dev/shm/${baseName(name)}_meta`;
  const data = `/dev/shm/${baseName(name)}`;
  const deadline = Date.now() + args.timeout;
  while (Date.now() < deadline) {
    const stat = statSync(meta, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    let version = null;
    try {
      const fd = openSync(meta, 'r');
      const bytes = Buffer.alloc(8);
      if (readSync(fd, bytes, 0, 8, 0) === 8) version = bytes.readDoubleLE(0);
      closeSync(fd);
    } catch {
      // removed again
    }
    return { metaBytes: stat.size, version, dataExists: statSync(data, { throwIfNoEntry: false }) !== undefined };
  }
  return null;
}

function createOrOpen(name) {
  try {
    create(name, { shape: args.shape, dtype: args.dtype }).close();
    return { created: true };
  } catch (error) {
    return { created: false, ...describe(error), open: tryOpen(name) };
  }
}

/** Busy-polls (staying on its core) until the file go exists. */
function awaitGo(go) {
  const deadline = Date.now() + 60000;
  while (statSync(go, { throwIfNoEntry: false }) === undefined && Date.now() < deadline);
}

if (args.role === 'create') {
  process.stdout.write('ready\n');
  // Racers on other cores see the file appear within microseconds of each other.
  awaitGo(args.go);
  report(createOrOpen(args.name));
} else if (args.role === 'create-rounds' || args.role === 'open-rounds') {
  for await (const line of createInterface({ input: process.stdin })) {
    const round = Number(line);
    const name = args.names[round];
    if (args.role === 'create-rounds') {
      process.stdout.write(`ready ${round}\n`);
      awaitGo(`${args.go}-${round}`);
      report({ round, ...createOrOpen(name) });
      continue;
    }
    process.stdout.write(`polling ${round}\n`);
    const seen = pollUntilMetadataAppears(name);
    report({ round, seen, ...(seen === null ? { ok: false, code: 'NEVER_APPEARED' } : tryOpenCountingRetries(name)) });
  }
} else {
  throw new Error(`unknown role ${args.role}`);
}
