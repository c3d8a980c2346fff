/** How a peer talks to the bench: JSON arguments in, "ready" and one JSON report out. */
import { READY_LINE } from '../children.js';

export function peerArguments<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

export function signalReady(): void {
  process.stdout.write(`${READY_LINE}\n`);
}

/** Prints the report and exits; a peer never outlives its report. */
export function finish(report: object): never {
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

/** Milliseconds a peer waits for its partner before giving up, so none outlives a crashed bench. */
export function partnerTimeoutMs(seconds: number): number {
  return (seconds + 10) * 1000;
}
