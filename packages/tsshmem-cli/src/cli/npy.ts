/**
 * The NumPy .npy format (numpy.lib.format): magic "\x93NUMPY", version,
 * header length, then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }` padded with
 * spaces and a newline so the data starts at a multiple of 64 bytes, then
 * the array in C order. Writes version 1.0; reads 1.0, 2.0 and 3.0.
 * Only the 11 stream dtypes, little-endian, C order.
 *
 * Files may be hostile: every malformed header is an Error that says what is
 * wrong, the data size the header declares is checked against the bytes the
 * file holds before anything is allocated for it, and text from the file is
 * quoted and cut short in messages.
 */
import type { Dtype } from 'tsshmem';

const MAGIC = Buffer.from([0x93, ...Buffer.from('NUMPY', 'latin1')]);
const HEADER_ALIGNMENT = 64;
const VERSION_1_PREAMBLE = MAGIC.length + 2 + 2;
/** Longer headers are refused (numpy itself refuses over 10000 bytes by default). */
export const MAX_HEADER_BYTES = 64 * 1024;
/** numpy's own limit (NPY_MAXDIMS); streams take at most 19. */
const MAX_NDIM = 64;
/** How much of a text from the file an error message quotes. */
const QUOTE_CHARS = 120;

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
  const itemSize = BigInt(DESCRIPTORS[dtype].slice(2));
  const declared = shape.reduce((product, dimension) => product * BigInt(dimension), itemSize);
  const available = BigInt(bytes.length - dataStart);
  if (available !== declared) {
    throw new Error(
      `the file holds ${available} data bytes but shape (${shape.join(', ')}) of ${dtype} needs ${declared}: the file is truncated or corrupt`,
    );
  }
  return { dtype, shape, data: bytes.subarray(dataStart) };
}

function readHeader(bytes: Buffer): { header: string; dataStart: number } {
  const major = bytes[MAGIC.length]!;
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new Error(`.npy format version ${major}.${bytes[MAGIC.length + 1]} is not supported (1.0, 2.0 and 3.0 are)`);
  }
  const start = major === 1 ? VERSION_1_PREAMBLE : VERSION_1_PREAMBLE + 2;
  if (bytes.length < start) throw new Error('the .npy header is truncated');
  const length = major === 1 ? bytes.readUInt16LE(MAGIC.length + 2) : bytes.readUInt32LE(MAGIC.length + 2);
  if (length > MAX_HEADER_BYTES) throw new Error(`the .npy header declares ${length} bytes, more than ${MAX_HEADER_BYTES}: the file is corrupt`);
  if (start + length > bytes.length) {
    throw new Error(`the .npy header declares ${length} bytes but the file ends after ${bytes.length - start}: the file is truncated`);
  }
  return { header: bytes.toString(major === 3 ? 'utf8' : 'latin1', start, start + length), dataStart: start + length };
}

/** A text from the file, quoted and cut short, safe to print on a terminal (control characters escaped, C1 and DEL too). */
function quote(text: string): string {
  const quoted = JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
  return quoted.replace(/[\u007f-\u009f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function dtypeOfDescriptor(descriptor: string): Dtype {
  const byteOrder = descriptor.slice(0, 1);
  const typeCode = descriptor.slice(1);
  const dtype = DTYPE_BY_TYPE_CODE.get(typeCode);
  if (dtype === undefined || !['<', '>', '|', '='].includes(byteOrder)) {
    throw new Error(`dtype ${quote(descriptor)} is not one of the stream dtypes (${Object.values(DESCRIPTORS).join(', ')}): convert the array with astype()`);
  }
  const singleByte = typeCode.endsWith('1');
  if (singleByte || byteOrder === '<') return dtype;
  if (byteOrder === '>') throw new Error(`the array is big-endian ('${descriptor}'): convert it with a.astype('<${typeCode}')`);
  throw new Error(`dtype '${descriptor}' does not state little-endian byte order: save it as '<${typeCode}'`);
}

function entry(header: string, key: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\)|\\[)`).exec(header);
  if (match === null) throw new Error(`the .npy header has no usable '${key}' entry: ${quote(header.trim())}`);
  if (match[1] === '[') throw new Error(`the .npy file holds a structured array ('${key}' is a list): only plain numeric arrays can be loaded`);
  return match[1]!;
}

function stringEntry(header: string, key: string): string {
  const value = entry(header, key);
  if (!value.startsWith("'") && !value.startsWith('"')) throw new Error(`the .npy header's '${key}' is not a string: ${quote(value)}`);
  return value.slice(1, -1);
}

function booleanEntry(header: string, key: string): boolean {
  const value = entry(header, key);
  if (value !== 'True' && value !== 'False') throw new Error(`the .npy header's '${key}' is not True or False: ${quote(value)}`);
  return value === 'True';
}

function tupleEntry(header: string, key: string): number[] {
  const value = entry(header, key);
  if (!value.startsWith('(')) throw new Error(`the .npy header's '${key}' is not a tuple: ${quote(value)}`);
  const items = value
    .slice(1, -1)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  // Decimal digits only (an L is Python 2's long), as numpy writes them.
  const dimensions = items.map((item) => (/^\d+L?$/.test(item) ? Number(item.replace(/L$/, '')) : NaN));
  if (dimensions.some((dimension) => !Number.isSafeInteger(dimension))) {
    throw new Error(`the .npy header's '${key}' is not a tuple of sizes: ${quote(value)}`);
  }
  if (dimensions.length > MAX_NDIM) throw new Error(`the .npy header's '${key}' has ${dimensions.length} dimensions, more than numpy's ${MAX_NDIM}`);
  return dimensions;
}
