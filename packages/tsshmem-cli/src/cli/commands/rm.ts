/** `tsshmem rm NAME...`: removes streams (data, metadata and GPU handle objects, lock file). */
import type { Command } from 'commander';

import { unlinkByBase } from 'tsshmem/internal';
import { exitCodeOf, reportError } from '../report-error.js';
import { describeAddress, resolveStreams } from '../streams.js';

export function registerRm(program: Command): void {
  program
    .command('rm')
    .summary('remove streams')
    .description(
      'remove streams: unlink their shared-memory objects and lock file. Processes that have a stream open keep their ' +
        'mapping; the name is free at once. A missing stream is reported, the others are still removed, and the exit code is 3',
    )
    .argument('<names...>', 'stream names, or ps_ base names shown by ls')
    .action((names: string[]) => {
      const { addresses, missing } = resolveStreams(names);
      let failed = false;
      for (const address of addresses) {
        try {
          unlinkByBase(address.base);
          console.log(`removed ${describeAddress(address)}`);
        } catch (error) {
          failed = true;
          reportError(error);
        }
      }
      process.exitCode = exitCodeOf({ failed, missing });
    });
}
