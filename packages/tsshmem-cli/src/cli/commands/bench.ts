/**
 * `tsshmem bench` (also `npm run bench`): the benchmark suite of src/bench/,
 * with a progress line on stderr, Markdown tables on stdout and, with
 * --json, every figure in a file.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

import { DEFAULT_SIZES, runBench, SECTION_NAMES, type SectionName } from '../../bench/runner.js';
import { formatShapeArgument, MAX_TIMER_MS, parseShape, parseTimerSeconds } from '../parse.js';

const DEFAULT_SECONDS = 1.5;
const QUICK_SECONDS = 0.3;
const WARMUP_SHARE = 0.2;

interface BenchCommandOptions {
  readonly quick?: boolean;
  readonly duration?: number;
  readonly sizes: number[][];
  readonly sections: SectionName[];
  readonly json?: string;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure throughput and wake latency beside C references, and print Markdown tables')
    .option('--quick', `short cases (${QUICK_SECONDS} s each) for a quick look`)
    .option('--duration <seconds>', `seconds measured per case, after a warm-up, at most ${MAX_TIMER_MS / 1000} (default ${DEFAULT_SECONDS})`, parseTimerSeconds)
    .addOption(
      new Option('--sizes <shapes>', 'payloads of the IO section, comma-separated')
        .argParser(parseSizes)
        .default(DEFAULT_SIZES.map((shape) => [...shape]), DEFAULT_SIZES.map(formatShapeArgument).join(',')),
    )
    .addOption(
      new Option('--sections <names>', 'sections to run, comma-separated').argParser(parseSections).default([...SECTION_NAMES], SECTION_NAMES.join(',')),
    )
    .option('--json <path>', 'also write every figure to this JSON file')
    .addHelpText('after', '\nExample: tsshmem bench --quick --sections io,wake --sizes 128x128,1000x1000 --json bench.json')
    .action(async (options: BenchCommandOptions) => {
      const quick = options.quick === true;
      const seconds = options.duration ?? (quick ? QUICK_SECONDS : DEFAULT_SECONDS);
      await runBench({
        timing: { seconds, warmupSeconds: Number((seconds * WARMUP_SHARE).toPrecision(3)) },
        quick,
        sizes: options.sizes,
        sections: options.sections,
        json: options.json,
      });
    });
}

function parseSizes(text: string): number[][] {
  return text.split(',').map((shape) => parseShape(shape.trim()));
}

function parseSections(text: string): SectionName[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SECTION_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown section "${name}": choose from ${SECTION_NAMES.join(', ')}`);
    }
  }
  return names as SectionName[];
}
