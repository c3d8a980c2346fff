// The tsshmem command on ring streams: ls and info show the history depth,
// the overflow mode and every registered reader with how far behind it is;
// watch shows the readers' lag; dump --history saves every held frame as
// one .npy array of shape (frames, *shape).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { create, open } from '../packages/tsshmem/dist/index.js';
import { overwriteReaderPid, run, startNodePeer, streamName } from './helpers.js';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'tsshmem-cli', 'dist', 'cli', 'main.js');

async function cli(args) {
  const { code, stdout, stderr } = await run(process.execPath, [cliPath, ...args]).done;
  assert.equal(code, 0, stderr);
  return stdout;
}

/** A block-mode ring of 4 with 3 frames written and one registered reader that consumed one of them. */
function ringWithReader(t) {
  const name = streamName(t, 'cli-ring');
  const writer = create(name, { shape: [2, 3], dtype: 'int16', history: 4, overflow: 'block' });
  const reader = open(name);
  t.after(() => {
    reader.close();
    writer.close();
  });
  reader.register();
  for (let n = 1; n <= 3; n++) writer.write(new Int16Array(6).fill(n));
  return { name, writer, reader };
}

test('ls and info show a ring stream\'s history, overflow mode and each registered reader with how far behind it is', async (t) => {
  const { name, reader } = ringWithReader(t);
  await reader.next();
  const line = (await cli(['ls'])).split('\n').find((text) => text.startsWith(name));
  assert.match(line, /4 block, 1 reader \(max 2 behind\)$/);
  const info = await cli(['info', name]);
  assert.match(info, /^ring +4 frame slots, overflow block, pyshmem frame kept current$/m);
  assert.match(info, /^ring head +frame 3$/m);
  assert.match(info, new RegExp(`^ring readers +pid ${process.pid} \\(alive\\): 2 of 4 frames behind$`, 'm'));
  const record = JSON.parse(await cli(['info', name, '--json']));
  assert.deepEqual(record.ring, { history: 4, overflow: 'block', pyshmemFrame: true, head: 3, readers: [{ pid: process.pid, alive: true, cursor: 1, behind: 2, holds: 0 }] });
});

test('info shows a killed reader as dead, by its free liveness lock, even while its pid names a live process; ls counts only live readers', async (t) => {
  const name = streamName(t, 'cli-dead-reader');
  const writer = create(name, { shape: [4], dtype: 'int32', history: 4, overflow: 'block' });
  t.after(() => writer.close());
  const peer = startNodePeer(t, 'ring-peer.js', { command: 'register', name });
  await peer.lines.waitFor('registered');
  const [entry] = writer.ringStatus().readers;
  peer.child.kill('SIGKILL');
  await peer.done;
  overwriteReaderPid(name, entry.entryOffset, process.pid); // its pid reused: this live process
  const info = await cli(['info', name]);
  assert.match(info, new RegExp(`^ring readers +pid ${process.pid} \\(dead\\): 0 of 4 frames behind$`, 'm'));
  const line = (await cli(['ls'])).split('\n').find((text) => text.startsWith(name));
  assert.match(line, /4 block, no readers$/);
});

test('watch shows each registered reader of a ring and how far behind it is', async (t) => {
  const { name } = ringWithReader(t);
  const output = await cli(['watch', name, '--duration', '0.3', '--interval', '100']);
  assert.match(output, new RegExp(`readers=${process.pid}:3/4`));
});

test('dump --history saves every frame a ring holds, oldest first, as one .npy array (frames, *shape)', async (t) => {
  const { name, writer } = ringWithReader(t);
  writer.write(new Int16Array(6).fill(4)); // the ring of 4 now holds 1..4
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-ring-dump-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'history.npy');
  assert.match(await cli(['dump', name, '--history', '-o', file]), /4 frames of \[2, 3\] int16, writes 1 to 4/);
  const { code, stdout, stderr } = await run('python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(file)}); print(a.shape, a[:, 0, 0].tolist(), a.dtype)`]).done;
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), '(4, 2, 3) [1, 2, 3, 4] int16');
});
