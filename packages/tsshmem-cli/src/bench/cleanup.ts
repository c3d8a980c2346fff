/**
 * What the bench leaves on the system (streams, child processes, the C build
 * directory), recorded as it is made and removed at the end, on error, and
 * on Ctrl-C or SIGTERM: pyshmem's bench leaves its streams behind, this one must not.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { constants } from 'node:os';

import { create, unlink, type SharedMemory } from 'tsshmem';

const EXIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface BenchStreamOptions {
  readonly exclusiveWriter?: boolean;
  /** A ring stream of this many slots (the ring section). */
  readonly history?: number;
  readonly overflow?: 'overwrite' | 'block';
  readonly pyshmemFrame?: boolean;
}

export class Cleanup {
  readonly #streamNames = new Set<string>();
  readonly #children = new Set<ChildProcess>();
  readonly #directories = new Set<string>();
  #created = 0;

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.removeAll();
    process.exit(128 + constants.signals[signal]);
  };

  installSignalHandlers(): void {
    for (const signal of EXIT_SIGNALS) process.on(signal, this.#onSignal);
  }

  removeSignalHandlers(): void {
    for (const signal of EXIT_SIGNALS) process.off(signal, this.#onSignal);
  }

  /** A new float32 stream under a name unique to this run; removed by removeStream() or removeAll(). */
  createStream(label: string, shape: readonly number[], options: BenchStreamOptions = {}): SharedMemory<'float32'> {
    const name = `tsshmem-bench/${process.pid}/${++this.#created}/${label}`;
    this.#streamNames.add(name);
    return create(name, { ...options, shape, dtype: 'float32', exclusiveWriter: options.exclusiveWriter === true });
  }

  removeStream(stream: SharedMemory<'float32'>): void {
    const name = stream.name;
    stream.unlink();
    this.#streamNames.delete(name);
  }

  trackChild(child: ChildProcess): void {
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
  }

  trackDirectory(path: string): void {
    this.#directories.add(path);
  }

  /** Synchronous, so that it also runs from a signal handler just before exit. */
  removeAll(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    this.#children.clear();
    for (const name of this.#streamNames) unlink(name);
    this.#streamNames.clear();
    for (const directory of this.#directories) rmSync(directory, { recursive: true, force: true });
    this.#directories.clear();
  }
}

/** Runs fn with a new stream and removes the stream afterwards, also when fn throws. */
export async function withStream<T>(
  cleanup: Cleanup,
  label: string,
  shape: readonly number[],
  options: BenchStreamOptions,
  fn: (stream: SharedMemory<'float32'>) => T | Promise<T>,
): Promise<T> {
  const stream = cleanup.createStream(label, shape, options);
  try {
    return await fn(stream);
  } finally {
    cleanup.removeStream(stream);
  }
}
