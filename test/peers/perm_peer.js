// A Node peer for the permission tests (63-): another user, or a process
// whose TMPDIR (so whose lock directory) an attacker prepared. Prints one
// JSON line: the uid it ran as and what each attempt gave.
//
// Usage: node perm_peer.js '{"action": ..., "name": ..., ...}'
//   intrude  {name, lockPath, metaPath}  tries every way into someone else's stream: open(),
//                                        reading the metadata object, opening the lock file
//                                        (to flock it), unlink(), removing the lock file, create()
//   use      {name, values}              open(), read(), write(values), take and release the lock
//   create   {name}                      create() a [4] float32 stream, then close it (it stays)
//   open     {name}                      open(), then close
//   unlink   {name}                      unlink()
import { openSync, readFileSync, rmSync, closeSync } from 'node:fs';

import { create, open, unlink } from '../../packages/tsshmem/dist/index.js';
import { lockPath } from '../../packages/tsshmem/dist/format/names.js';

const args = JSON.parse(process.argv[2]);

function attempt(fn) {
  try {
    const value = fn();
    return { ok: true, ...(value === undefined ? {} : { value }) };
  } catch (error) {
    return { ok: false, code: error.code, errorName: error.name, message: error.message };
  }
}

const results = {};
switch (args.action) {
  case 'intrude':
    results.open = attempt(() => open(args.name).close());
    results.readMeta = attempt(() => void readFileSync(args.metaPath));
    results.lockForReading = attempt(() => closeSync(openSync(args.lockPath, 'r')));
    results.lockForAppend = attempt(() => closeSync(openSync(args.lockPath, 'a')));
    results.unlink = attempt(() => unlink(args.name));
    results.removeLock = attempt(() => rmSync(args.lockPath));
    results.create = attempt(() => create(args.name, { shape: [4] }).close());
    break;
  case 'use':
    results.use = attempt(() => {
      const stream = open(args.name);
      const before = Array.from(stream.read());
      stream.write(args.values);
      stream.acquireSync({ timeout: 5000 });
      stream.release();
      stream.close();
      return before;
    });
    break;
  case 'create':
    results.create = attempt(() => create(args.name, { shape: [4] }).close());
    results.lockPath = lockPath(args.name);
    break;
  case 'open':
    results.open = attempt(() => open(args.name).close());
    results.lockPath = lockPath(args.name);
    break;
  case 'unlink':
    results.unlink = attempt(() => unlink(args.name));
    results.lockPath = lockPath(args.name);
    break;
  default:
    throw new Error(`unknown action ${args.action}`);
}
process.stdout.write(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), results }) + '\n');
