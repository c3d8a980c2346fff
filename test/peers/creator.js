// Creates a stream, writes `values` (a flat array; strings for 64-bit
// integers), prints "created" and exits without closing or unlinking.
// Usage: node creator.js '{"name", "shape", "dtype", "values"}'
import { create } from '../../packages/tsshmem/dist/index.js';

const { name, shape, dtype, values } = JSON.parse(process.argv[2]);
const stream = create(name, { shape, dtype });
stream.write(values.map((value) => (typeof value === 'string' ? BigInt(value) : value)));
console.log('created');
