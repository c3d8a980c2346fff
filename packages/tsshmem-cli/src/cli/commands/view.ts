/**
 * `tsshmem view NAME...`: serves a page on 127.0.0.1 that shows the streams
 * live (src/cli/viewer/, docs/viewer.md). Every stream must exist when the
 * command starts (else exit code 3); it stops on SIGINT or SIGTERM.
 */
import { InvalidArgumentError, type Command } from 'commander';

import { open } from 'tsshmem';
import { parsePositive } from '../parse.js';
import { nextStopSignal } from '../stop-signals.js';
import { startViewer } from '../viewer/server.js';

const DEFAULT_MAX_FPS = 30;

export function registerView(program: Command): void {
  program
    .command('view')
    .description('show streams live in a browser: images, line plots, rates and statistics')
    .argument('<names...>', 'names of the streams to show')
    .option('-p, --port <n>', 'port on 127.0.0.1; 0 picks a free one', parsePort, 0)
    .option('--max-fps <n>', 'most frames a second sent to the page per stream', parsePositive, DEFAULT_MAX_FPS)
    .action(async (names: string[], options: { port: number; maxFps: number }) => runView(names, options.port, options.maxFps));
}

async function runView(names: string[], port: number, maxFps: number): Promise<void> {
  const uniqueNames = [...new Set(names)];
  for (const name of uniqueNames) open(name).close();
  const viewer = await startViewer({ names: uniqueNames, port, maxFps });
  console.log(`tsshmem view: ${viewer.url}`);
  await nextStopSignal();
  await viewer.close();
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return port;
}
