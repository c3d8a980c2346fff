/** The wake section's idle reader: awaits next() on a stream nobody writes and measures its own CPU time. */
import { setTimeout as delay } from 'node:timers/promises';

import { AbortError, open } from 'tsshmem';
import { finish, peerArguments } from './peer-io.js';

export interface IdleReaderArguments {
  readonly name: string;
  readonly seconds: number;
}

export interface IdleReaderReport {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** CPU time over wall time: 1 is one core busy. */
  readonly coreShare: number;
}

/** Lets the wait reach its sleep (thread start, first checks) before the CPU clock starts. */
const SETTLE_MS = 100;

const { name, seconds } = peerArguments<IdleReaderArguments>();
const stream = open(name);
const controller = new AbortController();
const waiting = stream.next({ signal: controller.signal }).catch((error: unknown) => {
  if (!(error instanceof AbortError)) throw error;
});
await delay(SETTLE_MS);
const before = process.cpuUsage();
const started = performance.now();
await delay(seconds * 1000);
const used = process.cpuUsage(before);
const elapsed = (performance.now() - started) / 1000;
controller.abort();
await waiting;
stream.close();
const cpuSeconds = (used.user + used.system) / 1e6;
finish({ seconds: elapsed, cpuSeconds, coreShare: cpuSeconds / elapsed } satisfies IdleReaderReport);
