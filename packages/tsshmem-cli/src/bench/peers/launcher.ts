/**
 * Starts the C reference programs for the bench, so that running them never
 * forks the process that measures in between its cases: a fork write-protects
 * its whole heap, and the page faults that follow would be charged to the
 * next case.
 * Reads one JSON request per stdin line, {id, command, args}, and answers
 * each on stdout, {id, code, stdout, stderr}, when its program ends. Ends
 * when stdin closes.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { collectOutput, type Finished } from '../children.js';

export interface LaunchRequest {
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
}

export interface LaunchResult extends Finished {
  readonly id: number;
}

function launch({ id, command, args }: LaunchRequest): void {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSSHMEM_BENCH_LAUNCHER: String(process.pid) } });
  const answer = (result: LaunchResult): void => void process.stdout.write(`${JSON.stringify(result)}\n`);
  collectOutput(child).then(
    (finished) => answer({ id, ...finished }),
    (error: Error) => answer({ id, code: null, signal: null, stdout: '', stderr: error.message }),
  );
}

for await (const line of createInterface({ input: process.stdin })) launch(JSON.parse(line) as LaunchRequest);
