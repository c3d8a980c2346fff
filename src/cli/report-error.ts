/** How every command reports a failure: one line on stderr and a documented exit code. */
import { ShmError } from '../errors.js';

/** Exit codes scripts can rely on. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
} as const;

export function reportError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tsshmem: ${message}\n`);
  process.exitCode = error instanceof ShmError && error.code === 'ENOENT' ? ExitCode.notFound : ExitCode.failure;
}
