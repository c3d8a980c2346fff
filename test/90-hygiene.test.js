import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { create, open, unlink } from '../packages/tsshmem/dist/index.js';
import { heldResources, peersDirectory, run, streamName } from './helpers.js';

test('close() unmaps the segments and closes the descriptors at once', (t) => {
  const name = streamName(t, 'close-unmaps');
  const first = create(name, { shape: [4096], dtype: 'float64' });
  const second = open(name);
  first.write(new Float64Array(4096).fill(1));
  second.read();
  const both = heldResources(name);
  assert.ok(both.mappings >= 2, `${both.mappings} mappings with two handles open`);

  first.close();
  const one = heldResources(name);
  assert.ok(one.mappings > 0 && one.mappings < both.mappings, `${one.mappings} mappings after closing one of two handles`);
  second.close();
  assert.deepEqual(heldResources(name), { descriptors: [], mappings: 0 });
});

test("a closed handle's live view becomes empty instead of pointing at unmapped memory", async (t) => {
  const stream = create(streamName(t, 'live-view'), { shape: [8], dtype: 'int32' });
  stream.write([1, 2, 3, 4, 5, 6, 7, 8]);
  await stream.acquire();
  const view = stream.read({ safe: false });
  assert.equal(view.length, 8);
  stream.release();
  stream.close();
  assert.equal(view.length, 0);
  assert.equal(view[0], undefined);
});

test('2,000 create/write/read/unlink cycles keep descriptors, mappings and RSS flat', { timeout: 180000 }, async (t) => {
  const prefix = `${streamName(t, 'cycles')}/cycle`;
  const warmup = 200;
  const cycles = 2000;
  t.after(() => {
    for (let i = 0; i < warmup + cycles; i++) unlink(`${prefix}/${i}`);
  });

  const child = run(process.execPath, ['--expose-gc', join(peersDirectory, 'cycles.js'), JSON.stringify({ prefix, warmup, cycles, elements: 16384 })], {
    timeout: 170000,
  });
  const { code, stdout, stderr } = await child.done;
  assert.equal(code, 0, stderr);
  const { before, after } = JSON.parse(stdout);
  assert.equal(after.fds, before.fds, 'descriptors grew');
  assert.equal(after.shmMappings, 0, 'mappings of /dev/shm left');
  const growth = after.rss - before.rss;
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 1024 / 1024).toFixed(1)} MiB over ${cycles} cycles of 128 KiB payloads`);
});
