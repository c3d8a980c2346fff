// `tsshmem load` of hostile .npy files: the parser, fuzzed in-process, gives
// a plain Error with a short, printable message or a well-formed array, never
// another exception, and never allocates for the data (the array is a view of
// the file); the command, run for representative cases, exits with code 1 and
// one line on stderr, leaving the target stream unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import fc from 'fast-check';

import { create, unlink } from '../packages/tsshmem/dist/index.js';
import { decodeNpy, encodeNpyHeader, MAX_HEADER_BYTES } from '../packages/tsshmem-cli/dist/cli/npy.js';
import { cliPath, leftovers, run, streamName } from './helpers.js';

const MAGIC = Buffer.from('\x93NUMPY', 'latin1');
const ITEM_SIZES = { '|i1': 1, '<i2': 2, '<i4': 4, '<i8': 8, '|u1': 1, '<u2': 2, '<u4': 4, '<u8': 8, '<f2': 2, '<f4': 4, '<f8': 8 };
/** Anything beyond this in a message is not "one clear line". */
const MAX_MESSAGE_CHARS = 600;

// --- Building .npy files, well-formed or not -------------------------------------------

/** A .npy file: preamble (magic, version, header length), header text, data bytes. */
function npyFile({ magic = MAGIC, major = 1, minor = 0, headerLength, header, dataBytes }) {
  const text = Buffer.from(header, major === 3 ? 'utf8' : 'latin1');
  const lengthField = Buffer.alloc(major === 1 ? 2 : 4);
  const declared = headerLength ?? text.length;
  if (major === 1) lengthField.writeUInt16LE(declared & 0xffff);
  else lengthField.writeUInt32LE(declared >>> 0);
  return Buffer.concat([magic, Buffer.from([major, minor]), lengthField, text, Buffer.alloc(dataBytes, 0x5a)]);
}

function dictionary({ descr, fortran, shape, extra = '' }) {
  return `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, ${extra}}`.padEnd(118, ' ') + '\n';
}

const descrArbitrary = fc.oneof(
  fc.constantFrom(...Object.keys(ITEM_SIZES)).map((code) => `'${code}'`),
  fc.constantFrom("'>f4'", "'=f8'", "'<U8'", "'|b1'", "'<c8'", "'<M8[ns]'", "'|O'", "'<f16'", "''", "[('a', '<f4')]", '4', 'None', "'\u001b[2J<f4'"),
  fc.string({ maxLength: 20 }).map((text) => `'${text}'`),
);
const dimensionText = fc.oneof(
  fc.integer({ min: 0, max: 6 }).map(String),
  fc.constantFrom('-1', '-4', '1000000000000', String(2 ** 53), '18446744073709551616', '4.0', '1e3', '0x10', '4L', ' ', 'None', "'4'"),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);
const shapeArbitrary = fc.oneof(
  fc.array(dimensionText, { maxLength: 5 }).map((items) => (items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`)),
  fc.constantFrom('()', '[4, 4]', '(4, 4', '4', `(${Array(80).fill(1).join(', ')})`),
);
const fortranArbitrary = fc.constantFrom('False', 'True', 'false', '0', "'False'");

/** A header of plausible parts (often valid), a declared header length, and a data size near what it needs. */
const structuredFile = fc
  .record({
    magic: fc.oneof({ weight: 8, arbitrary: fc.constant(MAGIC) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 6, maxLength: 6 }).map(Buffer.from) }),
    major: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2, 3) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    minor: fc.integer({ min: 0, max: 2 }),
    headerLengthDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -200, max: 200 }) }),
    hugeHeaderLength: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(MAX_HEADER_BYTES + 1, 0xffffffff, 2 ** 31) }),
    descr: descrArbitrary,
    fortran: fortranArbitrary,
    shape: shapeArbitrary,
    extra: fc.oneof(fc.constant(''), fc.string({ maxLength: 30 })),
    dataDelta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -64, max: 64 }) }),
  })
  .map((parts) => {
    const header = dictionary(parts);
    const declaredSize = plausibleDataSize(parts.descr, parts.shape);
    const dataBytes = Math.max(0, Math.min(declaredSize ?? 16, 4096) + parts.dataDelta);
    const headerLength = parts.hugeHeaderLength ?? Math.max(0, Buffer.byteLength(header, parts.major === 3 ? 'utf8' : 'latin1') + parts.headerLengthDelta);
    return npyFile({ magic: parts.magic, major: parts.major, minor: parts.minor, headerLength, header, dataBytes });
  });

/** The data size a header of these parts declares, when small enough to write; else undefined. */
function plausibleDataSize(descr, shape) {
  const itemSize = ITEM_SIZES[descr.slice(1, -1)];
  const dimensions = /^\(([\d, ]*)\)$/.exec(shape)?.[1].split(',').map((item) => item.trim()).filter(Boolean).map(Number);
  if (itemSize === undefined || dimensions === undefined) return undefined;
  const size = dimensions.reduce((product, dimension) => product * dimension, itemSize);
  return Number.isFinite(size) ? size : undefined;
}

/** A valid file, then cut short, or with bytes overwritten. */
const mutatedValidFile = fc
  .record({
    dtype: fc.constantFrom('int8', 'uint16', 'int32', 'float16', 'float32', 'float64', 'uint64'),
    shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    overwrites: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
  })
  .map(({ dtype, shape, cut, overwrites }) => {
    const header = encodeNpyHeader(dtype, shape);
    const itemSize = Number(/\d+$/.exec(dtype)[0]) / 8;
    const file = Buffer.concat([header, Buffer.alloc(shape.reduce((a, b) => a * b, itemSize), 7)]);
    for (const { at, byte } of overwrites) file[at % file.length] = byte;
    return cut === undefined ? file : file.subarray(0, cut % (file.length + 1));
  });

const anyFile = fc.oneof(structuredFile, mutatedValidFile, fc.uint8Array({ maxLength: 300 }).map(Buffer.from));

/** The parser's contract for any input: a consistent view of the file's own bytes, or a plain Error with a clear message. */
function checkDecode(file) {
  let array;
  try {
    array = decodeNpy(file);
  } catch (error) {
    assert.equal(error.constructor, Error, `not a parse error but ${error.constructor.name}: ${error.stack}`);
    assert.ok(error.message.length > 0 && error.message.length <= MAX_MESSAGE_CHARS, `message of ${error.message.length} chars: ${error.message.slice(0, 200)}`);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f-\u009f]/, 'a control character from the file reached the message');
    return;
  }
  assert.equal(array.data.buffer, file.buffer, 'the data was copied (an allocation) instead of viewed');
  const itemSize = Number(/\d+$/.exec(array.dtype)[0]) / 8;
  assert.equal(array.data.length, array.shape.reduce((product, dimension) => product * dimension, itemSize));
  assert.ok(array.data.byteOffset + array.data.length === file.byteOffset + file.length, 'the data is the end of the file');
}

test('fuzzed .npy files: the parser returns a consistent view of the file or throws a clear Error, nothing else', () => {
  fc.assert(fc.property(anyFile, checkDecode), { numRuns: 20000 });
});

test('a header declaring 10^12 elements (or more than 2^64 bytes) in a 200-byte file is refused before any allocation', () => {
  for (const shape of ['(1000000000000,)', '(1000000, 1000000)', '(4294967296, 4294967296, 4294967296)', `(${Array(19).fill(1000).join(', ')})`]) {
    const file = npyFile({ header: dictionary({ descr: "'<f4'", fortran: 'False', shape }), dataBytes: 72 });
    assert.throws(() => decodeNpy(file), { constructor: Error, message: /the file holds 72 data bytes but shape .* needs \d+: the file is truncated or corrupt/ }, shape);
  }
});

test('a version 2.0 header over 64 KiB, declared or real, is refused', () => {
  const real = npyFile({ major: 2, header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4,)' }).padStart(MAX_HEADER_BYTES + 10, ' '), dataBytes: 16 });
  assert.throws(() => decodeNpy(real), { message: /declares 65546 bytes, more than 65536/ });
  const declared = npyFile({ major: 2, headerLength: 0xffffffff, header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4,)' }), dataBytes: 16 });
  assert.throws(() => decodeNpy(declared), { message: /declares 4294967295 bytes, more than 65536/ });
});

// --- The command, for representative cases ---------------------------------------------

const valid = (shape, descr = "'<f4'", dataBytes = 64) => npyFile({ header: dictionary({ descr, fortran: 'False', shape }), dataBytes });

const HOSTILE_FILES = {
  'empty file': [Buffer.alloc(0), /does not start with "\\x93NUMPY"/],
  'magic only': [MAGIC, /does not start with/],
  'bad magic': [npyFile({ magic: Buffer.from('\x93NUMPZ', 'latin1'), header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4, 4)' }), dataBytes: 64 }), /does not start with/],
  'random bytes': [Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff)), /does not start with/],
  'version 4.0': [npyFile({ major: 4, header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4, 4)' }), dataBytes: 64 }), /version 4\.0 is not supported/],
  'version 2.0 cut in its preamble': [Buffer.concat([MAGIC, Buffer.from([2, 0, 1, 0, 0])]), /header is truncated/],
  'header length beyond the file': [npyFile({ headerLength: 5000, header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4, 4)' }), dataBytes: 0 }), /header declares 5000 bytes but the file ends/],
  'version 2.0 header of 4 GiB declared': [npyFile({ major: 2, headerLength: 0xffffffff, header: dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4, 4)' }), dataBytes: 64 }), /more than 65536/],
  'version 2.0 header over 64 KiB': [npyFile({ major: 2, header: ' '.repeat(MAX_HEADER_BYTES) + dictionary({ descr: "'<f4'", fortran: 'False', shape: '(4, 4)' }), dataBytes: 64 }), /more than 65536/],
  'unknown dtype <U8': [valid('(4, 4)', "'<U8'"), /dtype "<U8" is not one of the stream dtypes/],
  'bool dtype': [valid('(4, 4)', "'|b1'"), /dtype "\|b1" is not one of the stream dtypes/],
  'complex dtype': [valid('(4, 4)', "'<c8'", 128), /dtype "<c8" is not one of/],
  'object dtype': [valid('(4, 4)', "'|O'"), /dtype "\|O" is not one of/],
  'dtype with a terminal escape': [valid('(4, 4)', "'\u001b[2J<f4'"), /dtype "\\u001b\[2J<f4" is not one of/],
  'big-endian': [valid('(4, 4)', "'>f4'"), /big-endian/],
  'structured array': [valid('(4, 4)', "[('a', '<f4')]"), /structured array/],
  'Fortran order': [npyFile({ header: dictionary({ descr: "'<f4'", fortran: 'True', shape: '(4, 4)' }), dataBytes: 64 }), /Fortran order/],
  'negative dimension': [valid('(-4, -4)'), /'shape' is not a tuple of sizes/],
  'float dimension': [valid('(4.0, 4)'), /not a tuple of sizes/],
  'dimension in hex': [valid('(0x4, 4)'), /not a tuple of sizes/],
  'shape of 10^12 elements in a small file': [valid('(1000000000000,)'), /needs 4000000000000: the file is truncated or corrupt/],
  'shape over 2^64 bytes': [valid('(4294967296, 4294967296, 4294967296)'), /needs 316912650057057350374175801344: /],
  'dimension over 2^53': [valid('(18446744073709551616, 4)'), /not a tuple of sizes/],
  '80 dimensions': [valid(`(${Array(80).fill(1).join(', ')})`), /80 dimensions, more than numpy's 64/],
  'no shape': [npyFile({ header: "{'descr': '<f4', 'fortran_order': False, }".padEnd(118) + '\n', dataBytes: 64 }), /no usable 'shape' entry/],
  'data one byte short': [valid('(4, 4)', "'<f4'", 63), /holds 63 data bytes but shape \(4, 4\) of float32 needs 64/],
  'data one byte over': [valid('(4, 4)', "'<f4'", 65), /holds 65 data bytes/],
  'data missing': [valid('(4, 4)', "'<f4'", 0), /holds 0 data bytes/],
  'zero-size array': [valid('(0, 4)', "'<f4'", 0), /.+/],
};
/** Cases also run with --create, which must then create nothing. */
const CREATE_CASES = new Set(['bad magic', 'version 2.0 header of 4 GiB declared', 'unknown dtype <U8', 'Fortran order', 'shape of 10^12 elements in a small file', 'data one byte short', 'zero-size array', '80 dimensions']);
/** Well-formed files that do not fit the target: refused too, but --create would make a stream of them. */
const MISMATCHED_FILES = {
  'another dtype than the stream': [valid('(4, 4)', "'<f8'", 128), /holds \[4, 4\] float64 but stream .* is \[4, 4\] float32/],
  'another shape than the stream': [valid('(2, 8)'), /holds \[2, 8\] float32 but stream/],
};

test('tsshmem load of hostile files: exit code 1, one clear line on stderr, the target stream unchanged, nothing created', { timeout: 240000 }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'tsshmem-load-fuzz-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const name = streamName(t, 'load-target');
  const target = create(name, { shape: [4, 4], dtype: 'float32' });
  t.after(() => target.close());
  target.write(Float32Array.from({ length: 16 }, (_, index) => index * 1.5));
  const before = { count: target.count, sequence: target.writeSequence, values: Array.from(target.read()) };

  const cases = [...Object.entries(HOSTILE_FILES), ...Object.entries(MISMATCHED_FILES)];
  await runLimited(cases, 4, async ([label, [content, message]], index) => {
    const file = join(directory, `case-${index}.npy`);
    writeFileSync(file, content);
    // 1.2 GB of address space: a Node that tried to allocate what a header declares would fail with another message.
    const loaded = await run('bash', ['-c', 'ulimit -v 1200000 && exec "$@"', 'bash', process.execPath, cliPath, 'load', name, file], { timeout: 60000 }).done;
    assert.equal(loaded.code, 1, `${label}: exit ${loaded.code ?? loaded.signal}: ${loaded.stderr}`);
    assert.equal(loaded.stdout, '', label);
    assert.match(loaded.stderr, /^tsshmem: [^\n]+\n$/, `${label}: not one line: ${loaded.stderr}`);
    assert.ok(loaded.stderr.startsWith(`tsshmem: ${file}: `) || /but stream/.test(loaded.stderr), `${label}: the message does not name the file: ${loaded.stderr}`);
    assert.match(loaded.stderr, message, label);

    if (!CREATE_CASES.has(label)) return;
    const fresh = `${name} created by ${label}`;
    t.after(() => unlink(fresh));
    const created = await run(process.execPath, [cliPath, 'load', fresh, file, '--create'], { timeout: 60000 }).done;
    assert.equal(created.code, 1, `${label} --create: ${created.stderr}`);
    assert.deepEqual(leftovers(fresh), [], `${label}: load --create left a stream`);
  });

  assert.deepEqual({ count: target.count, sequence: target.writeSequence, values: Array.from(target.read()) }, before, 'the target stream changed');
});

/** Runs task over items, at most limit at a time; rejects with the first failure. */
async function runLimited(items, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
