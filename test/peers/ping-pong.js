// The answering side of a ping-pong over two float32 streams: waits with
// next() for ping n and answers by writing n to pong. Every lateEvery-th ping
// it calls next() only once that ping has landed, which a baseline taken at
// call time would miss. Prints "ready" once both streams are open (every ping
// lands after this handle's baseline), then "answered N". A ping out of order
// or skipped ends it with an error.
// Usage: node ping-pong.js '{"ping", "pong", "exchanges", "timeout", "lateEvery"}'
import { setTimeout as sleep } from 'node:timers/promises';

import { open } from '../../packages/tsshmem/dist/index.js';

const { ping, pong, exchanges, timeout, lateEvery } = JSON.parse(process.argv[2]);
const requests = open(ping);
const answers = open(pong);
const answer = new Float32Array(answers.size / Float32Array.BYTES_PER_ELEMENT);
console.log('ready');
for (let n = 1; n <= exchanges; n++) {
  let request;
  if (n % lateEvery === 0) {
    while (requests.count < n) await sleep(1);
    request = await requests.next({ timeout: 0 });
  } else {
    request = await requests.next({ timeout });
  }
  if (request[0] !== n || requests.missedWrites !== 0) {
    throw new Error(`expected ping ${n}, got ${request[0]} after ${requests.missedWrites} missed writes`);
  }
  answers.write(answer.fill(n));
}
requests.close();
answers.close();
console.log(`answered ${exchanges}`);
