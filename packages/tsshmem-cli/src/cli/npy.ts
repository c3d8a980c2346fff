/**
 * The NumPy .npy format (numpy.lib.format): magic "\x93NUMPY", version,
 * header length, then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }` padded with
 * spaces and a newline so the data starts at a multiple of 64 bytes, then
 * the array in C order. Writes version 1.0; reads 1.0, 2.0 and 3.0.
 * Only the 11 stream dtypes, little-endian, C order.
 */
import type { Dtype } from 'tsshmem';

const MAGIC = Buffer.from([0x93, ...Buffer.from('NUMPY', 'latin1')]);
const HEADER_ALIGNMENT = 64;
const VERSION_1_PREAMBLE = MAGIC.length + 2 + 2;

const DESCRIPTORS: Readonly<Record<Dtype, string>> = {
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
};

/** Kind and item size ("f4") -> dtype. */
const DTYPE_BY_TYPE_CODE = new Map(Object.entries(DESCRIPTORS).map(([dtype, descriptor]) => [descriptor.slice(1), dtype as Dtype]));

export interface NpyArray {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** The array's bytes, C order, little-endian. */
  readonly data: Uint8Array;
}

/** The version 1.0 header for an array of dtype and shape; the data follows it. */
export function encodeNpyHeader(dtype: Dtype, shape: readonly number[]): Buffer {
  const dictionary = `{'descr': '${DESCRIPTORS[dtype]}', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  const unpadded = VERSION_1_PREAMBLE + dictionary.length + 1;
  const padding = (HEADER_ALIGNMENT - (unpadded % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT;
  const text = dictionary + ' '.repeat(padding) + '\n';
  const preamble = Buffer.alloc(VERSION_1_PREAMBLE);
  MAGIC.copy(preamble);
  preamble[MAGIC.length] = 1;
  preamble[MAGIC.length + 1] = 0;
  preamble.writeUInt16LE(text.length, MAGIC.length + 2);
  return Buffer.concat([preamble, Buffer.from(text, 'latin1')]);
}

function pythonTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Parses a .npy file; throws an Error that says what is wrong and how to fix it. */
export function decodeNpy(file: Uint8Array): NpyArray {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length < VERSION_1_PREAMBLE || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not a NumPy .npy file: it does not start with "\\x93NUMPY"');
  }
  const { header, dataStart } = readHeader(bytes);
  const dtype = dtypeOfDescriptor(stringEntry(header, 'descr'));
  if (booleanEntry(header, 'fortran_order')) {
    throw new Error('the array is in Fortran order: save a C-ordered copy (numpy.ascontiguousarray(a)) instead');
  }
  const shape = tupleEntry(header, 'shape');
  const itemSize = Number(DESCRIPTORS[dtype].slice(2));
  const expected = shape.reduce((product, dimension) => product * dimension, itemSize);
  const available = bytes.length - dataStart;
  if (available !== expected) {
    throw new Error(`the file holds ${available} data bytes but shape (${shape.join(', ')}) of ${dtype} needs ${expected}: the file is truncated or corrupt`);
  }
  return { dtype, shape, data: bytes.subarray(dataStart) };
}

function readHeader(bytes: Buffer): { header: string; dataStart: number } {
  const major = bytes[MAGIC.length]!;
  if (major === 1) {
    const length = bytes.readUInt16LE(MAGIC.length + 2);
    return { header: bytes.toString('latin1', VERSION_1_PREAMBLE, VERSION_1_PREAMBLE + length), dataStart: VERSION_1_PREAMBLE + length };
  }
  if (major === 2 || major === 3) {
    const start = VERSION_1_PREAMBLE + 2;
    if (bytes.length < start) throw new Error('the .npy header is truncated');
    const length = bytes.readUInt32LE(MAGIC.length + 2);
    return { header: bytes.toString(major === 3 ? 'utf8' : 'latin1', start, start + length), dataStart: start + length };
  }
  throw new Error(`.npy format version ${major}.${bytes[MAGIC.length + 1]} is not supported (1.0, 2.0 and 3.0 are)`);
}

function dtypeOfDescriptor(descriptor: string): Dtype {
  const byteOrder = descriptor.slice(0, 1);
  const typeCode = descriptor.slice(1);
  const dtype = DTYPE_BY_TYPE_CODE.get(typeCode);
  if (dtype === undefined || !['<', '>', '|', '='].includes(byteOrder)) {
    throw new Error(`dtype '${descriptor}' is not one of the stream dtypes (${Object.values(DESCRIPTORS).join(', ')}): convert the array with astype()`);
  }
  const singleByte = typeCode.endsWith('1');
  if (singleByte || byteOrder === '<') return dtype;
  if (byteOrder === '>') throw new Error(`the array is big-endian ('${descriptor}'): convert it with a.astype('<${typeCode}')`);
  throw new Error(`dtype '${descriptor}' does not state little-endian byte order: save it as '<${typeCode}'`);
}

function entry(header: string, key: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\)|\\[)`).exec(header);
  if (match === null) throw new Error(`the .npy header has no usable '${key}' entry: ${header.trim()}`);
  if (match[1] === '[') throw new Error(`the .npy file holds a structured array ('${key}' is a list): only plain numeric arrays can be loaded`);
  return match[1]!;
}

function stringEntry(header: string, key: string): string {
  const value = entry(header, key);
  if (!value.startsWith("'") && !value.startsWith('"')) throw new Error(`the .npy header's '${key}' is not a string: ${value}`);
  return value.slice(1, -1);
}

function booleanEntry(header: string, key: string): boolean {
  const value = entry(header, key);
  if (value !== 'True' && value !== 'False') throw new Error(`the .npy header's '${key}' is not True or False: ${value}`);
  return value === 'True';
}

function tupleEntry(header: string, key: string): number[] {
  const value = entry(header, key);
  if (!value.startsWith('(')) throw new Error(`the .npy header's '${key}' is not a tuple: ${value}`);
  const items = value
    .slice(1, -1)
    .split(',')
    .map((item) => item.trim().replace(/L$/, ''))
    .filter((item) => item !== '');
  const dimensions = items.map(Number);
  if (dimensions.some((dimension) => !Number.isSafeInteger(dimension) || dimension < 0)) {
    throw new Error(`the .npy header's '${key}' is not a tuple of sizes: ${value}`);
  }
  return dimensions;
}
