#!/usr/bin/env node
/** The `tsshmem` command: one file per command under src/cli/commands/. */
import { Command } from 'commander';

import { registerDemo } from './commands/demo.js';
import { reportError } from './report-error.js';

const program = new Command('tsshmem')
  .description('named shared-memory streams of numeric arrays, compatible with Python pyshmem')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

registerDemo(program);

program.parseAsync(process.argv).catch(reportError);
