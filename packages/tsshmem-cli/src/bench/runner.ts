/** `tsshmem bench`: runs the chosen sections one after another, then prints and stores the report. */
import { CReferences } from './c-references.js';
import { Cleanup } from './cleanup.js';
import type { BenchContext } from './context.js';
import { runIo } from './io.js';
import { describeMachine } from './machine.js';
import type { Timing } from './measure.js';
import { runMvm } from './mvm.js';
import { runProcesses } from './processes.js';
import { runPython } from './python.js';
import { runRing } from './ring.js';
import { Progress } from './progress.js';
import { renderMarkdown, type SectionOutcome, writeJson } from './report.js';
import { runWake } from './wake.js';

export const SECTION_NAMES = ['io', 'processes', 'mvm', 'wake', 'ring', 'python', 'bridge'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

export const DEFAULT_SIZES: readonly (readonly number[])[] = [
  [100, 100],
  [128, 128],
  [1000, 1000],
  [10000, 10000],
];

export interface BenchOptions {
  readonly timing: Timing;
  readonly quick: boolean;
  readonly sizes: readonly (readonly number[])[];
  readonly sections: readonly SectionName[];
  /** Where to write every figure as JSON, if anywhere. */
  readonly json?: string;
}

export async function runBench(options: BenchOptions): Promise<void> {
  const cleanup = new Cleanup();
  const progress = new Progress();
  cleanup.installSignalHandlers();
  try {
    const context = createContext(options, cleanup, progress);
    const machine = describeMachine();
    const outcomes = new Map<SectionName, SectionOutcome>();
    for (const section of SECTION_NAMES.filter((name) => options.sections.includes(name))) {
      outcomes.set(section, await runSection(section, context, options));
    }
    progress.finish();
    process.stdout.write(renderMarkdown(machine, options.timing, [...outcomes.values()]));
    if (options.json !== undefined) {
      writeJson(options.json, {
        machine,
        settings: { ...options.timing, quick: options.quick, dtype: 'float32' },
        sections: Object.fromEntries([...outcomes].map(([name, outcome]) => [name, outcome.figures])),
        targets: [...outcomes.values()].flatMap((outcome) => outcome.targets),
      });
    }
  } finally {
    progress.finish();
    cleanup.removeAll();
    cleanup.removeSignalHandlers();
  }
}

function runSection(section: SectionName, context: BenchContext, options: BenchOptions): Promise<SectionOutcome> {
  switch (section) {
    case 'io':
      return runIo(context, options.sizes);
    case 'processes':
      return runProcesses(context);
    case 'mvm':
      return runMvm(context);
    case 'wake':
      return runWake(context);
    case 'ring':
      return runRing(context);
    case 'python':
      return runPython(context);
    case 'bridge':
      // Loaded when it runs: the NATS client it measures must not load with every tsshmem command.
      return import('./bridge.js').then(({ runBridge }) => runBridge(context));
  }
}

function createContext(options: BenchOptions, cleanup: Cleanup, progress: Progress): BenchContext {
  let references: Promise<CReferences> | undefined;
  return {
    timing: options.timing,
    quick: options.quick,
    cleanup,
    progress,
    references: () => {
      references ??= progress.step('compiling the C references').then(() => CReferences.build(cleanup));
      return references;
    },
  };
}
