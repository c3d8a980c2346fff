import assert from 'node:assert/strict';
import { test } from 'node:test';

import { existsSync, unlinkSync } from 'node:fs';

import { create, gpuAvailable, open, SharedMemory } from '../packages/tsshmem/dist/index.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { native } from '../packages/tsshmem/dist/native/binding.js';
import { leftovers, runNodePeer, streamName } from './helpers.js';

test('create() makes a zero-filled stream described by its properties', (t) => {
  const name = streamName(t, 'create');
  const stream = create(name, { shape: [2, 3], dtype: 'int16' });
  assert.ok(stream instanceof SharedMemory);
  assert.equal(stream.name, name);
  assert.deepEqual(stream.shape, [2, 3]);
  assert.equal(stream.dtype, 'int16');
  assert.equal(stream.size, 12);
  assert.equal(stream.gpuDevice, null);
  assert.equal(stream.cpuMirror, true);
  assert.equal(stream.owner, true);
  assert.equal(stream.count, 0);
  assert.equal(stream.writeTime, 0);
  assert.equal(stream.writeSequence, 0);
  assert.deepEqual(stream.read(), new Int16Array(6));
  stream.close();
});

test('create() defaults dtype to float32 and takes a number as a 1-D shape', (t) => {
  const stream = create(streamName(t, 'defaults'), { shape: 5 });
  assert.equal(stream.dtype, 'float32');
  assert.deepEqual(stream.shape, [5]);
  assert.equal(stream.size, 20);
  assert.ok(stream.read() instanceof Float32Array);
  stream.close();
});

test('open() reconstructs name, shape, dtype, size and contents', (t) => {
  const name = streamName(t, 'open');
  const creator = create(name, { shape: [3, 2, 2], dtype: 'uint32' });
  const frame = Uint32Array.from({ length: 12 }, (_, i) => i * 1000 + 7);
  creator.write(frame);

  const opened = open(name);
  assert.equal(opened.name, name);
  assert.deepEqual(opened.shape, [3, 2, 2]);
  assert.equal(opened.dtype, 'uint32');
  assert.equal(opened.size, 48);
  assert.equal(opened.owner, false);
  assert.equal(opened.count, 1);
  assert.equal(opened.writeTime, creator.writeTime);
  assert.deepEqual(opened.read(), frame);
  opened.close();
  creator.close();
});

test('open() of a missing name fails with ENOENT and tells to create it', (t) => {
  const name = streamName(t, 'missing');
  assert.throws(
    () => open(name),
    (error) => {
      assert.equal(error.code, 'ENOENT');
      assert.ok(error.message.includes(`create(${JSON.stringify(name)}, `), error.message);
      return true;
    },
  );
  assert.deepEqual(leftovers(name), []);
});

test('create() of an existing name fails with EEXIST, tells to use open(), and leaves the stream intact', (t) => {
  const name = streamName(t, 'exists');
  const first = create(name, { shape: [4], dtype: 'float64' });
  first.write([1, 2, 3, 4]);
  assert.throws(
    () => create(name, { shape: [8], dtype: 'int8' }),
    (error) => {
      assert.equal(error.code, 'EEXIST');
      assert.ok(error.message.includes(`open(${JSON.stringify(name)})`), error.message);
      return true;
    },
  );
  const reopened = open(name);
  assert.deepEqual(reopened.shape, [4]);
  assert.equal(reopened.dtype, 'float64');
  assert.deepEqual(reopened.read(), new Float64Array([1, 2, 3, 4]));
  reopened.close();
  first.close();
});

test('create() rejects a size that does not match shape and dtype, and creates nothing', (t) => {
  const name = streamName(t, 'size');
  for (const size of [15, 17, 4, 0]) {
    assert.throws(
      () => create(name, { shape: [4], dtype: 'float32', size }),
      (error) => {
        assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
        assert.match(error.message, new RegExp(`\\b${size}\\b.*does not match shape \\[4\\].*16 bytes`));
        return true;
      },
    );
    assert.deepEqual(leftovers(name), []);
  }
  const stream = create(name, { shape: [4], dtype: 'float32', size: 16 });
  assert.equal(stream.size, 16);
  stream.close();
});

test('create() rejects invalid names, shapes and dtypes, and creates nothing', (t) => {
  const name = streamName(t, 'invalid');
  assert.throws(() => create('', { shape: [1] }), { code: 'ERR_INVALID_ARG_TYPE' });
  for (const shape of [[], 0, -1, [2, 0], [1.5], ['2'], new Array(20).fill(1)]) {
    assert.throws(() => create(name, { shape }), { code: 'ERR_INVALID_ARG_VALUE' }, `shape ${JSON.stringify(shape)}`);
  }
  assert.throws(() => create(name, { shape: '3' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => create(name, { shape: [2], dtype: 'complex64' }), (error) => {
    assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
    assert.ok(error.message.includes('float16'), error.message);
    return true;
  });
  assert.deepEqual(leftovers(name), []);
});

test('a CPU stream has gpuDevice null; without GPU support create() refuses gpuDevice and creates nothing', { skip: gpuAvailable() && 'this build supports GPUs' }, (t) => {
  const name = streamName(t, 'gpu');
  assert.throws(() => create(name, { shape: [4], gpuDevice: 'cuda:0' }), { code: 'ERR_GPU_UNAVAILABLE' });
  assert.deepEqual(leftovers(name), []);
});

test('another process opens the stream and reads what this one wrote', async (t) => {
  const name = streamName(t, 'cross');
  const stream = create(name, { shape: [2, 2], dtype: 'int64' });
  stream.write([[1n, -2n], [2n ** 62n, -(2n ** 63n)]]);

  const { code, stdout, stderr } = await runNodePeer('reader.js', { name }).done;
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    name,
    shape: [2, 2],
    dtype: 'int64',
    size: 32,
    owner: false,
    count: 1,
    values: ['1', '-2', String(2n ** 62n), String(-(2n ** 63n))],
  });
  stream.close();
});

test('a child that opens, reads and exits leaves the stream attachable', async (t) => {
  const name = streamName(t, 'child-exit');
  const stream = create(name, { shape: [3], dtype: 'float64' });
  stream.write([0.5, 1.5, 2.5]);

  for (let round = 0; round < 2; round++) {
    const { code, stderr } = await runNodePeer('reader.js', { name }).done;
    assert.equal(code, 0, stderr);
  }
  assert.deepEqual(stream.read(), new Float64Array([0.5, 1.5, 2.5]));
  const again = open(name);
  again.write([3, 4, 5]);
  assert.deepEqual(again.read(), new Float64Array([3, 4, 5]));
  assert.equal(stream.count, 2);
  again.close();
  stream.close();
});

// --- open({ settleTimeout }) --------------------------------------------------------

/**
 * A stream whose data object is missing, as while a creator is still at work.
 * open()'s attempts to open the data object are counted, and the data object
 * is made (as the creator would) right after the attempt for which
 * appearAfter(attempt) says so, so the next attempt finds it.
 */
function halfCreatedStream(t, label) {
  const name = streamName(t, label);
  create(name, { shape: [4], dtype: 'int32' }).close();
  const dataObject = `/${baseName(name)}`;
  unlinkSync(`/dev/shm${dataObject}`);
  const realShmOpen = native.shmOpen;
  t.after(() => {
    native.shmOpen = realShmOpen;
  });
  const state = { attempts: 0, appearAfter: () => false };
  native.shmOpen = (object) => {
    if (object !== dataObject) return realShmOpen(object);
    state.attempts++;
    try {
      return realShmOpen(object);
    } finally {
      if (!existsSync(`/dev/shm${dataObject}`) && state.appearAfter(state.attempts)) native.shmClose(native.shmCreate(dataObject, 16, 0o600));
    }
  };
  return { name, state, removeDataObject: () => unlinkSync(`/dev/shm${dataObject}`) };
}

test('open({ settleTimeout: 0 }) makes one attempt: a data object that appears just after it is not waited for, where the default retries and finds it', (t) => {
  const { name, state, removeDataObject } = halfCreatedStream(t, 'settle-zero');
  state.appearAfter = (attempt) => attempt === 1;
  assert.throws(() => open(name, { settleTimeout: 0 }), { name: 'ShmError', code: 'ENOENT' });
  assert.equal(state.attempts, 1, 'open() with settleTimeout 0 tried again');

  removeDataObject();
  state.attempts = 0;
  const stream = open(name);
  assert.equal(state.attempts, 2, 'the default settle window retries once the data object is there');
  assert.deepEqual(stream.read(), new Int32Array(4));
  stream.close();
});

test('open({ settleTimeout: 50 }) of a stream whose data object never appears fails with ENOENT', (t) => {
  const { name, state } = halfCreatedStream(t, 'settle-short');
  assert.throws(() => open(name, { settleTimeout: 50 }), { name: 'ShmError', code: 'ENOENT', message: /does not exist/ });
  assert.ok(state.attempts >= 1);
});

test('open({ settleTimeout }) longer than the default keeps waiting past 1 s for a data object that appears late', (t) => {
  const { name, state } = halfCreatedStream(t, 'settle-long');
  const started = performance.now();
  // Appears only once the default window (1000 ms) is over: open() without the option would have failed.
  state.appearAfter = () => performance.now() - started > 1200;
  const stream = open(name, { settleTimeout: 60000 });
  assert.deepEqual(stream.read(), new Int32Array(4));
  stream.close();
});

test('open() refuses a settleTimeout that is not a duration, before touching the stream', (t) => {
  const name = streamName(t, 'settle-invalid');
  for (const [value, code] of [
    [-1, 'ERR_INVALID_ARG_VALUE'],
    [NaN, 'ERR_INVALID_ARG_TYPE'],
    ['50', 'ERR_INVALID_ARG_TYPE'],
    [null, 'ERR_INVALID_ARG_TYPE'],
  ]) {
    assert.throws(() => open(name, { settleTimeout: value }), { code }, `settleTimeout ${String(value)}`);
  }
});

test('create() and open() refuse options that are not an object, and exclusiveWriter or cpuMirror that is not a boolean, creating and claiming nothing', async (t) => {
  const name = streamName(t, 'bad-options');
  const notObject = (error) => {
    assert.equal(error.code, 'ERR_INVALID_ARG_TYPE');
    assert.match(error.message, /options must be an object/);
    return true;
  };
  for (const options of [null, 'yes', 5, [1]]) {
    assert.throws(() => create(name, options), notObject, `create(name, ${JSON.stringify(options)})`);
  }
  assert.throws(() => create(name, { shape: [1], exclusiveWriter: 'yes' }), {
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'option exclusiveWriter must be true or false, received "yes"',
  });
  assert.throws(() => create(name, { shape: [1], cpuMirror: 1 }), { code: 'ERR_INVALID_ARG_TYPE', message: /option cpuMirror must be true or false/ });
  assert.deepEqual(leftovers(name), []);

  const stream = create(name, { shape: [1] });
  t.after(() => stream.close());
  for (const options of [null, 'yes', 5, [1]]) {
    assert.throws(() => open(name, options), notObject, `open(name, ${JSON.stringify(options)})`);
  }
  assert.throws(() => open(name, { exclusiveWriter: 1 }), { code: 'ERR_INVALID_ARG_TYPE', message: /option exclusiveWriter must be true or false, received number 1/ });
  assert.equal(stream.lockInfo().locked, false, 'nothing claimed the lock');
  open(name, undefined).close();
});

test('create() with a shape no process can map (4e15 bytes, past the address space) is ERR_INVALID_ARG_VALUE naming the size and the remedy, and leaves nothing', (t) => {
  const name = streamName(t, 'unmappable');
  assert.throws(() => create(name, { shape: [100000, 100000, 100000] }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: `stream ${JSON.stringify(name)} of 4000000000000000 bytes cannot be mapped (ENOMEM: not enough memory or address space): use a smaller shape`,
  });
  assert.deepEqual(leftovers(name), []);
});
