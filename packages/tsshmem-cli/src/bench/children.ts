/**
 * The bench's child processes: Node scripts in peers/ (run with this Node
 * binary) that print "ready" once set up and one JSON line at the end, and
 * the compiled C references, started by the launcher peer. All are tracked
 * by the cleanup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { Cleanup } from './cleanup.js';
import type { LaunchRequest, LaunchResult } from './peers/launcher.js';

export interface Peer<T> {
  /** Resolves when the peer has opened its streams. */
  readonly ready: Promise<void>;
  /** The peer's JSON report, once it exits with code 0. */
  readonly result: Promise<T>;
}

export interface Finished {
  readonly code: number | null;
  /** The signal that ended it, if one did (code is then null). */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A child process whose stdout and stderr are pipes. */
type OutputChild = Pick<ChildProcess, 'on'> & { readonly stdout: Readable; readonly stderr: Readable };

/** A command line; a launcher may wrap it (to pin it to a CPU). */
export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
}

export const READY_LINE = 'ready';

/** Starts src/bench/peers/<script>.ts (compiled) with its arguments as one JSON string. */
export function startPeer<T>(cleanup: Cleanup, script: string, args: object, launcher = (launch: Launch): Launch => launch): Peer<T> {
  const path = fileURLToPath(new URL(`./peers/${script}.js`, import.meta.url));
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  const { command, args: commandArgs } = launcher({ command: process.execPath, args: [path, JSON.stringify(args)] });
  const finished = runProcess(cleanup, command, commandArgs, (line) => {
    if (line === READY_LINE) signalReady();
  });
  const result = finished.then((run) => parseReport<T>(`peer ${script}`, run));
  return { ready: Promise.race([ready, result.then(() => undefined)]), result };
}

/** Runs programs from a child process (peers/launcher.ts), so that this process does not fork. */
export class Launcher {
  readonly #requests: NodeJS.WritableStream;
  readonly #pending = new Map<number, (result: LaunchResult) => void>();
  #nextId = 0;
  /** Why the launcher can no longer run anything; null while it runs. */
  #ended: string | null = null;

  private constructor(requests: NodeJS.WritableStream) {
    this.#requests = requests;
  }

  static start(cleanup: Cleanup): Launcher {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./peers/launcher.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanup.trackChild(child);
    const launcher = new Launcher(child.stdin);
    createInterface({ input: child.stdout }).on('line', (line) => launcher.#settle(JSON.parse(line) as LaunchResult));
    // A request written after the launcher died fails through #ended, not as an EPIPE.
    child.stdin.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      launcher.#ended = `the launcher ended (${signal ?? `exit code ${code}`})`;
      for (const id of launcher.#pending.keys()) launcher.#settle(launcher.#failure(id));
    });
    return launcher;
  }

  /** Runs a program to its end and parses its JSON line. */
  async runReference<T>(path: string, args: readonly (string | number)[]): Promise<T> {
    const id = this.#nextId++;
    if (this.#ended !== null) return parseReport<T>(path, this.#failure(id));
    const finished = new Promise<LaunchResult>((resolve) => this.#pending.set(id, resolve));
    this.#requests.write(`${JSON.stringify({ id, command: path, args: args.map(String) } satisfies LaunchRequest)}\n`);
    return parseReport<T>(path, await finished);
  }

  #failure(id: number): LaunchResult {
    return { id, code: null, signal: null, stdout: '', stderr: this.#ended ?? '' };
  }

  #settle(result: LaunchResult): void {
    this.#pending.get(result.id)?.(result);
    this.#pending.delete(result.id);
  }
}

/** Runs a command; onLine sees each stdout line as it arrives. */
export function runProcess(cleanup: Cleanup, command: string, args: readonly string[], onLine?: (line: string) => void): Promise<Finished> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanup.trackChild(child);
  return collectOutput(child, onLine);
}

/** A child's exit code and whole output once it has ended; rejects if it could not start. */
export function collectOutput(child: OutputChild, onLine?: (line: string) => void): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      onLine?.(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** "exit code N", or the signal that killed the process. */
export function describeEnd(run: Finished): string {
  return run.signal === null ? `exit code ${run.code}` : `killed by ${run.signal}`;
}

function parseReport<T>(what: string, run: Finished): T {
  const lastLine = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.code !== 0 || !lastLine.startsWith('{')) {
    throw new Error(`${what} failed (${describeEnd(run)}): ${run.stderr.trim() || run.stdout.trim() || 'no output'}`);
  }
  return JSON.parse(lastLine) as T;
}
