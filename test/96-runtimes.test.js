// Bun and Deno (pinned, from the npm registry: scripts/runtimes.js) load
// tsshmem and exchange frames with a Node process and a pyshmem process:
// create, write, read, and next() woken by each kind of writer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { runtimeBinary } from '../scripts/runtimes.js';
import { peersDirectory, runPythonPeer, streamName } from './helpers.js';
import { startRuntimePeer } from './runtime-peers.js';

const peerScript = join(peersDirectory, 'runtime-peer.js');

const RUNTIMES = {
  bun: () => [runtimeBinary('bun'), [peerScript]],
  deno: () => [runtimeBinary('deno'), ['run', '--allow-all', peerScript]],
};

async function python(command, args) {
  const { code, stdout, stderr } = await runPythonPeer(command, args).done;
  assert.equal(code, 0, stderr);
  return stdout;
}

for (const [runtime, commandLine] of Object.entries(RUNTIMES)) {
  test(`${runtime}: creates, writes, reads and waits with next(), with Node and pyshmem peers`, async (t) => {
    const [command, args] = commandLine();
    const other = await startRuntimePeer(t, command, args);
    const node = await startRuntimePeer(t, process.execPath, [peerScript]);
    assert.match((await other.ask({ op: 'info' })).runtime, new RegExp(`^${runtime} `));
    const fromOther = streamName(t, `from-${runtime}`);
    const toOther = streamName(t, `to-${runtime}`);

    await other.ask({ op: 'create', name: fromOther, shape: [4], dtype: 'float64' });
    await other.ask({ op: 'write', name: fromOther, values: [1, 2, 3, 4] });
    assert.deepEqual(await other.ask({ op: 'read', name: fromOther }), { values: [1, 2, 3, 4], count: 1 });
    assert.deepEqual(await node.ask({ op: 'read', name: fromOther }), { values: [1, 2, 3, 4], count: 1 });
    assert.deepEqual(JSON.parse(await python('read', { name: fromOther })).values, [1, 2, 3, 4]);

    // Its writes wake a Node next().
    await node.ask({ op: 'next', name: fromOther, timeout: 20000 });
    await other.ask({ op: 'write', name: fromOther, values: [5, 6, 7, 8] });
    assert.deepEqual(await node.answer(), { values: [5, 6, 7, 8], count: 2 });

    // A Node writer and a pyshmem writer (which wakes nobody) end its next().
    await node.ask({ op: 'create', name: toOther, shape: [2], dtype: 'int16' });
    await other.ask({ op: 'next', name: toOther, timeout: 20000 });
    await node.ask({ op: 'write', name: toOther, values: [-7, 7] });
    assert.deepEqual(await other.answer(), { values: [-7, 7], count: 1 });
    await other.ask({ op: 'next', name: toOther, timeout: 20000 });
    await python('write', { name: toOther, values: [9, -9] });
    assert.deepEqual(await other.answer(), { values: [9, -9], count: 2 });

    for (const peer of [other, node]) for (const name of [fromOther, toOther]) await peer.ask({ op: 'close', name });
  });
}
