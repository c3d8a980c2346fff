/**
 * `tsshmem view NAME...`: serves a page (on 127.0.0.1 unless --host says
 * otherwise, under an access token) that shows the streams live
 * (src/cli/viewer/, docs/viewer.md). Every stream must exist when the command
 * starts (else exit code 3); it stops on SIGINT or SIGTERM.
 */
import { InvalidArgumentError, type Command } from 'commander';

import { MAX_TIMER_MS, parseTimerRate } from '../parse.js';
import { openStream, requireStreams } from '../streams.js';
import { nextStopSignal } from '../stop-signals.js';
import { isLoopback } from '../viewer/local-origin.js';
import { randomToken, TOKEN_PATTERN } from '../viewer/token.js';

const DEFAULT_MAX_FPS = 30;
const DEFAULT_HOST = '127.0.0.1';

export function registerView(program: Command): void {
  program
    .command('view')
    .description('show streams live in a browser: images, line plots, rates and statistics')
    .argument('<names...>', 'stream names, or ps_ base names shown by ls (streams created by pyshmem have only that)')
    .option('-p, --port <n>', 'port to listen on; 0 picks a free one', parsePort, 0)
    .option('--host <address>', 'address to listen on; any but a loopback one exposes the viewer to the network', DEFAULT_HOST)
    .option('--token <token>', 'the access token in the address (16 to 256 of A-Z a-z 0-9 _ -); default: a new random one each run', parseToken)
    .option('--no-token', 'serve without an access token: only with a loopback --host, and with --insecure')
    .option('--insecure', 'confirms --no-token')
    .option('--max-fps <n>', `most frames a second sent to the page per stream, at least 1000/${MAX_TIMER_MS}`, parseTimerRate, DEFAULT_MAX_FPS)
    .action(async (names: string[], options: ViewOptions, command: Command) => runView(names, options, command));
}

interface ViewOptions {
  readonly port: number;
  readonly host: string;
  /** undefined: a random one; false: --no-token. */
  readonly token?: string | false;
  readonly insecure?: boolean;
  readonly maxFps: number;
}

async function runView(names: string[], options: ViewOptions, command: Command): Promise<void> {
  if (options.token === false) checkNoTokenAllowed(options, command);
  const token = options.token === false ? null : (options.token ?? randomToken());
  // Each stream must exist and open now; pages open their own handles.
  const streams = requireStreams(names);
  for (const address of streams) openStream(address).close();
  // Loaded when view runs: the HTTP server must not load with every command.
  const { startViewer } = await import('../viewer/server.js');
  const viewer = await startViewer({ streams, host: options.host, port: options.port, token, maxFps: options.maxFps });
  console.log(`tsshmem view: ${viewer.url}`);
  await nextStopSignal();
  await viewer.close();
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return port;
}

/** --no-token is allowed on a loopback address only, and only with --insecure. */
function checkNoTokenAllowed({ host, insecure }: ViewOptions, command: Command): void {
  if (!isLoopback(host)) command.error(`error: --no-token needs a loopback --host (127.0.0.1, ::1 or localhost), not ${JSON.stringify(host)}`);
  if (insecure !== true) {
    command.error('error: --no-token lets any program of any user that can connect to the port read the streams: add --insecure to confirm');
  }
}

function parseToken(text: string): string {
  if (!TOKEN_PATTERN.test(text)) throw new InvalidArgumentError('expected 16 to 256 characters from A-Z a-z 0-9 _ -');
  return text;
}

