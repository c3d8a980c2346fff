/** How every command reports a failure: one line on stderr and a documented exit code. */
import { CommanderError } from 'commander';

import { ShmError } from 'tsshmem';

/** Exit codes scripts can rely on. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
} as const;

/** The exit code of a command over several streams: any failure wins over a missing stream. */
export function exitCodeOf({ failed, missing }: { readonly failed: boolean; readonly missing: boolean }): number {
  return failed ? ExitCode.failure : missing ? ExitCode.notFound : ExitCode.ok;
}

/** Commander has already printed its message (usage errors) or the help (exit code 0). */
export function reportError(error: unknown): void {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tsshmem: ${message}\n`);
  process.exitCode = error instanceof ShmError && error.code === 'ENOENT' ? ExitCode.notFound : ExitCode.failure;
}
