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

export interface LaunchRequest {
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
}

export interface LaunchResult {
  readonly id: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function launch({ id, command, args }: LaunchRequest): void {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSSHMEM_BENCH_LAUNCHER: String(process.pid) } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let answered = false;
  const answer = (result: LaunchResult): void => {
    if (answered) return;
    answered = true;
    process.stdout.write(`${JSON.stringify(result)}\n`);
  };
  child.on('error', (error) => answer({ id, code: null, stdout, stderr: error.message }));
  child.on('close', (code) => answer({ id, code, stdout, stderr }));
}

for await (const line of createInterface({ input: process.stdin })) launch(JSON.parse(line) as LaunchRequest);
