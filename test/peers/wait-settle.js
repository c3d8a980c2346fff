// Settles waits on every path (a write, a timeout, an abort before and during
// the wait, close() while pending) and prints the outcomes as one JSON line.
// The writer and reader handles stay open on purpose and nothing calls
// process.exit: the process must end by itself once the waits have settled.
// Usage: node wait-settle.js '{"name"}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name } = JSON.parse(process.argv[2]);
const writer = open(name);
const reader = open(name);

const outcome = (promise) =>
  promise.then(
    (frame) => `frame ${frame[0]}`,
    (error) => (error.name === 'AbortError' ? 'AbortError' : error.code),
  );

const after = (ms, action) => setTimeout(action, ms);
const outcomes = {};

after(20, () => writer.write(new Int32Array(writer.size / 4).fill(1)));
outcomes.written = await outcome(reader.next({ timeout: 10000 }));
outcomes.timedOut = await outcome(reader.next({ timeout: 20 }));
outcomes.abortedBefore = await outcome(reader.next({ signal: AbortSignal.abort() }));
const controller = new AbortController();
after(20, () => controller.abort());
outcomes.abortedDuring = await outcome(reader.next({ signal: controller.signal }));
const closing = open(name);
after(20, () => closing.close());
outcomes.closedDuring = await outcome(closing.next());
console.log(JSON.stringify(outcomes));
