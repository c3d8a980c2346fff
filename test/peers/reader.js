// Opens an existing stream and prints what it holds as one JSON line:
// { name, shape, dtype, size, owner, count, values } (values of 64-bit
// integers as strings). With `next`, prints "opened" first and reports the
// first write after opening (readNew).
// Usage: node reader.js '{"name", "next"?}'
import { open } from '../../packages/tsshmem/dist/index.js';

const { name, next = false } = JSON.parse(process.argv[2]);
const stream = open(name);
let values;
if (next) {
  console.log('opened');
  values = await stream.readNew({ timeout: 15000 });
} else {
  values = stream.read();
}
const { shape, dtype, size, owner, count } = stream;
console.log(JSON.stringify({ name: stream.name, shape, dtype, size, owner, count, values: Array.from(values, (v) => (typeof v === 'bigint' ? String(v) : v)) }));
stream.close();
