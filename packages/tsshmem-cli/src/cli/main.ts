#!/usr/bin/env node
/** The `tsshmem` command: one file per command under src/cli/commands/. */
import { Command } from 'commander';

import { registerBench } from './commands/bench.js';
import { registerBridge } from './commands/bridge.js';
import { registerClean } from './commands/clean.js';
import { registerDemo } from './commands/demo.js';
import { registerDump } from './commands/dump.js';
import { registerInfo } from './commands/info.js';
import { registerLoad } from './commands/load.js';
import { registerLs } from './commands/ls.js';
import { registerRm } from './commands/rm.js';
import { registerView } from './commands/view.js';
import { registerWatch } from './commands/watch.js';
import { reportError } from './report-error.js';

const program = new Command('tsshmem')
  .description('named shared-memory streams of numeric arrays, compatible with Python pyshmem')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) })
  // Commander throws instead of exiting; reportError turns its errors into exit code 2 (usage).
  .exitOverride();

registerBench(program);
registerDemo(program);
registerLs(program);
registerInfo(program);
registerWatch(program);
registerDump(program);
registerLoad(program);
registerRm(program);
registerClean(program);
registerView(program);
registerBridge(program);

// `tsshmem ls | head`: a closed pipe ends the output, it is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

program.parseAsync(process.argv).catch(reportError);
