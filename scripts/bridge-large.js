// The bridge's large-frame check (docs/bridge.md): one 10000x10000 float32
// frame (381 MiB) through a local nats-server, compared by sha256.
// Usage: node scripts/bridge-large.js [nats://127.0.0.1:PORT] (a server with -js)
import { createHash } from 'node:crypto';

import { create, unlink } from '../packages/tsshmem/dist/index.js';
import { Publisher, Subscriber } from '../packages/tsshmem-nats/dist/index.js';

const server = process.argv[2] ?? 'nats://127.0.0.1:4222';
const shape = [10000, 10000];
const [sourceName, copyName] = [`bridge-large/${process.pid}/source`, `bridge-large/${process.pid}/copy`];
const digest = (array) => createHash('sha256').update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)).digest('hex');
const source = create(sourceName, { shape, dtype: 'float32' });
try {
  const frame = new Float32Array(shape[0] * shape[1]);
  for (let index = 0; index < frame.length; index++) frame[index] = (index * 2654435761) % 1000003;
  const subscriber = await Subscriber.start({ server, stream: copyName, subject: `tsshmem.large.${process.pid}` });
  const publisher = await Publisher.start({ server, source, subject: subscriber.subject });
  const start = performance.now();
  source.write(frame);
  while (subscriber.status().frames === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - start) / 1000;
  const { open } = await import('../packages/tsshmem/dist/index.js');
  const copy = open(copyName);
  const same = digest(copy.read()) === digest(frame);
  console.log(JSON.stringify({ bytes: frame.byteLength, seconds: Number(seconds.toFixed(2)), sha256Equal: same, subscriber: subscriber.status(), publisher: publisher.status() }));
  copy.close();
  await publisher.close();
  await subscriber.close();
  process.exitCode = same ? 0 : 1;
} finally {
  source.unlink();
  unlink(copyName);
}
