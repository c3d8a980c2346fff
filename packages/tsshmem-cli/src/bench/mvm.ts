/**
 * The matrix-vector pipeline of pyshmem's bench: a 1024x1024 matrix and a
 * vector in shared memory; each iteration writes a new vector, reads both and
 * multiplies. Measured twice: copying the matrix out every iteration, and
 * reading it through the zero-copy view under the lock (the README's pattern
 * for large data that does not change every iteration).
 */
import type { SharedMemory } from 'tsshmem';
import { withStream } from './cleanup.js';
import type { BenchContext } from './context.js';
import { measureRate, type Rate } from './measure.js';
import type { SectionOutcome, Table } from './report.js';
import { formatHz, formatMicros, formatPercent } from './units.js';

const SIZE = 1024;

export interface PipelineFigures extends Rate {
  readonly tsshmemUsPerIteration: number;
  readonly multiplyUsPerIteration: number;
  /** Shares of the measured time spent in tsshmem calls and in the multiply. */
  readonly tsshmemShare: number;
  readonly multiplyShare: number;
}

export interface MvmFigures {
  readonly size: number;
  readonly copy: PipelineFigures;
  readonly zeroCopy: PipelineFigures;
}

interface SplitTime {
  tsshmemMs: number;
  multiplyMs: number;
}

type Stream = SharedMemory<'float32'>;
type Iteration = (time: SplitTime) => void;

export async function runMvm(context: BenchContext): Promise<SectionOutcome> {
  const { cleanup, progress } = context;
  const figures = await withStream(cleanup, 'mvm-matrix', [SIZE, SIZE], {}, (matrix) =>
    withStream(cleanup, 'mvm-vector', [SIZE], {}, async (vector): Promise<MvmFigures> => {
      matrix.write(randomArray(SIZE * SIZE));
      await progress.step('mvm: copying the matrix every iteration');
      const copy = measurePipeline(context, copyingIteration(matrix, vector));
      await progress.step('mvm: zero-copy view of the matrix under the lock');
      const zeroCopy = measurePipeline(context, zeroCopyIteration(matrix, vector));
      return { size: SIZE, copy, zeroCopy };
    }),
  );
  return { tables: [pipelineTable(figures)], targets: [], figures };
}

function measurePipeline(context: BenchContext, iteration: Iteration): PipelineFigures {
  const time: SplitTime = { tsshmemMs: 0, multiplyMs: 0 };
  const rate = measureRate(() => iteration(time), context.timing, () => {
    time.tsshmemMs = 0;
    time.multiplyMs = 0;
  });
  const totalMs = rate.seconds * 1000;
  return {
    ...rate,
    tsshmemUsPerIteration: (time.tsshmemMs * 1000) / rate.iterations,
    multiplyUsPerIteration: (time.multiplyMs * 1000) / rate.iterations,
    tsshmemShare: time.tsshmemMs / totalMs,
    multiplyShare: time.multiplyMs / totalMs,
  };
}

/** Writes a new vector, then copies the vector and the whole matrix out. */
function copyingIteration(matrix: Stream, vector: Stream): Iteration {
  const next = newVectors();
  const vectorCopy = new Float32Array(SIZE);
  const matrixCopy = new Float32Array(SIZE * SIZE);
  const product = new Float32Array(SIZE);
  return (time) => {
    const input = next();
    const start = performance.now();
    vector.write(input);
    vector.read({ out: vectorCopy });
    matrix.read({ out: matrixCopy });
    const copied = performance.now();
    multiply(matrixCopy, vectorCopy, product);
    time.tsshmemMs += copied - start;
    time.multiplyMs += performance.now() - copied;
  };
}

/** Writes a new vector and copies it out; multiplies the matrix in place, holding its lock so no write changes it meanwhile. */
function zeroCopyIteration(matrix: Stream, vector: Stream): Iteration {
  const next = newVectors();
  const vectorCopy = new Float32Array(SIZE);
  const product = new Float32Array(SIZE);
  return (time) => {
    const input = next();
    const start = performance.now();
    vector.write(input);
    vector.read({ out: vectorCopy });
    const lock = matrix.lock();
    let locked = start;
    let multiplied = start;
    try {
      const view = matrix.read({ safe: false });
      locked = performance.now();
      multiply(view, vectorCopy, product);
      multiplied = performance.now();
    } finally {
      lock.release();
    }
    time.tsshmemMs += locked - start + (performance.now() - multiplied);
    time.multiplyMs += multiplied - locked;
  };
}

/** A different vector each iteration. */
function newVectors(): () => Float32Array {
  const input = randomArray(SIZE);
  let iteration = 0;
  return () => {
    input[0] = ++iteration;
    return input;
  };
}

function multiply(matrix: Float32Array, vector: Float32Array, product: Float32Array): void {
  for (let row = 0; row < SIZE; row++) {
    const offset = row * SIZE;
    let sum = 0;
    for (let column = 0; column < SIZE; column++) sum += matrix[offset + column]! * vector[column]!;
    product[row] = sum;
  }
}

function randomArray(length: number): Float32Array {
  return Float32Array.from({ length }, () => Math.random());
}

function pipelineTable(figures: MvmFigures): Table {
  const row = (label: string, pipeline: PipelineFigures): string[] => [
    label,
    formatHz(pipeline.hz),
    `${formatMicros(pipeline.tsshmemUsPerIteration)} (${formatPercent(pipeline.tsshmemShare)})`,
    `${formatMicros(pipeline.multiplyUsPerIteration)} (${formatPercent(pipeline.multiplyShare)})`,
  ];
  return {
    title: `MVM pipeline: ${SIZE}x${SIZE} matrix times a vector, both in shared memory`,
    columns: ['matrix read', 'iterations/s', 'tsshmem per iteration', 'multiply per iteration'],
    rows: [row('read({ out }) every iteration', figures.copy), row('zero-copy view under the lock', figures.zeroCopy)],
    notes: [
      'Each iteration writes a new vector and reads it back; the multiply is a plain JavaScript loop.',
      'tsshmem: write + read of the vector, and the matrix copy or the lock pair around the zero-copy view.',
    ],
  };
}
