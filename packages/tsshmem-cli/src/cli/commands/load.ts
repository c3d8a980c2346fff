/** `tsshmem load NAME FILE.npy`: writes a NumPy .npy file into a stream as one write. */
import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import { dtypeByName } from 'tsshmem/internal';
import { create, type NumericArray, type SharedMemory } from 'tsshmem';
import { decodeNpy, type NpyArray } from '../npy.js';
import { findStream, missingStream, openStream } from '../streams.js';
import { formatShape } from '../text.js';

export function registerLoad(program: Command): void {
  program
    .command('load')
    .summary('write a NumPy .npy file into a stream')
    .description('write a NumPy .npy file into a stream as one write; its dtype and shape must be those of the stream')
    .argument('<name>', 'stream name, or the ps_ base name shown by ls')
    .argument('<file>', 'a .npy file of a little-endian, C-ordered array of one of the 11 stream dtypes')
    .option('--create', "create the stream with the file's shape and dtype if it does not exist (it outlives this command)")
    .action((name: string, file: string, options: { create?: boolean }) => load(name, file, options.create === true));
}

function load(nameOrBase: string, file: string, createMissing: boolean): void {
  const array = readNpyFile(file);
  const address = findStream(nameOrBase);
  if (address === null && !createMissing) {
    throw missingStream(nameOrBase, "pass --create to create it with the file's shape and dtype");
  }
  const stream = address === null ? create(nameOrBase, { shape: array.shape, dtype: array.dtype }) : openStream(address);
  const label = address?.label ?? nameOrBase;
  try {
    checkMatches(array, stream, file, label);
    stream.write(typedArrayOf(array));
    console.log(`${file} -> ${label}: ${formatShape(stream.shape)} ${stream.dtype}, write ${stream.count}${address === null ? ' (created)' : ''}`);
  } catch (error) {
    if (address === null) stream.unlink();
    throw error;
  } finally {
    stream.close();
  }
}

function readNpyFile(file: string): NpyArray {
  try {
    return decodeNpy(readFileSync(file));
  } catch (error) {
    throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function checkMatches(array: NpyArray, stream: SharedMemory, file: string, label: string): void {
  const sameShape = array.shape.length === stream.shape.length && array.shape.every((dimension, i) => dimension === stream.shape[i]);
  if (array.dtype !== stream.dtype || !sameShape) {
    throw new Error(
      `${file} holds ${formatShape(array.shape)} ${array.dtype} but stream ${label} is ${formatShape(stream.shape)} ${stream.dtype}: ` +
        'convert the array (astype, reshape) before saving it',
    );
  }
}

/** The stream's TypedArray over a copy of the data (the file's bytes need not be aligned). */
function typedArrayOf(array: NpyArray): NumericArray {
  const { ArrayType, itemSize } = dtypeByName(array.dtype);
  const aligned = new Uint8Array(array.data);
  return new ArrayType(aligned.buffer, 0, aligned.length / itemSize);
}
