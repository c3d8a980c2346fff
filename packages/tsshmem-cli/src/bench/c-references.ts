/**
 * The C reference programs (bench/c/*.c), compiled when the bench starts
 * with the system's C compiler (`cc -O2`, or $CC) into a temporary directory
 * that the cleanup removes. Without a compiler their rows say why they are skipped.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Launch, Launcher, runProcess } from './children.js';
import type { Cleanup } from './cleanup.js';

export type ReferenceProgram = 'io_reference' | 'pingpong_reference' | 'ring_handover_reference' | 'ring_copy_reference';

const PROGRAMS: readonly string[] = ['io_reference', 'pingpong_reference', 'ring_handover_reference', 'ring_copy_reference', 'silent_writer', 'run_on_cpu'];
const SOURCE_DIRECTORY = fileURLToPath(new URL('../../bench/c/', import.meta.url));

export interface Skipped {
  readonly skipped: string;
}

export class CReferences {
  readonly #launcher: Launcher;
  readonly #directory: string;
  /** null when the programs are built; else the reason their rows are skipped. */
  readonly skipReason: string | null;

  private constructor(launcher: Launcher, directory: string, skipReason: string | null) {
    this.#launcher = launcher;
    this.#directory = directory;
    this.skipReason = skipReason;
  }

  static async build(cleanup: Cleanup): Promise<CReferences> {
    const directory = mkdtempSync(join(tmpdir(), 'tsshmem-bench-'));
    cleanup.trackDirectory(directory);
    const compiler = process.env.CC || 'cc';
    const launcher = Launcher.start(cleanup);
    for (const program of PROGRAMS) {
      const problem = await compile(cleanup, compiler, program, directory);
      if (problem !== null) return new CReferences(launcher, directory, problem);
    }
    return new CReferences(launcher, directory, null);
  }

  /** Runs a program with args (its lock files go in the build directory) and returns its JSON report. */
  async run<T>(program: ReferenceProgram, args: readonly (string | number)[]): Promise<T | Skipped> {
    if (this.skipReason !== null) return { skipped: this.skipReason };
    return this.#launcher.runReference<T>(join(this.#directory, program), [...args, this.#directory]);
  }

  /** Runs bench/c/silent_writer.c with args (its usage line says which) and returns its JSON report. */
  async runSilentWriter<T>(args: readonly (string | number)[]): Promise<T | Skipped> {
    if (this.skipReason !== null) return { skipped: this.skipReason };
    return this.#launcher.runReference<T>(join(this.#directory, 'silent_writer'), args);
  }

  /** The launch of a command pinned to one CPU by the run_on_cpu helper; only where the programs are built. */
  onCpu(cpu: number, launch: Launch): Launch {
    if (this.skipReason !== null) throw new Error(`cannot pin to CPU ${cpu}: the C helpers are not built (${this.skipReason})`);
    return { command: join(this.#directory, 'run_on_cpu'), args: [String(cpu), launch.command, ...launch.args] };
  }
}

export function isSkipped<T extends object>(figure: T | Skipped): figure is Skipped {
  return 'skipped' in figure;
}

/** null once built; else why not. */
async function compile(cleanup: Cleanup, compiler: string, program: string, directory: string): Promise<string | null> {
  const args = ['-O2', '-o', join(directory, program), join(SOURCE_DIRECTORY, `${program}.c`), '-lrt'];
  try {
    const run = await runProcess(cleanup, compiler, args);
    if (run.code === 0) return null;
    return `skipped: ${compiler} failed on ${program}.c: ${run.stderr.trim().split('\n')[0] ?? ''}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'skipped: no C compiler';
    throw error;
  }
}
