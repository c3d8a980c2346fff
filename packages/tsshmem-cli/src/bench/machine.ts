/** The machine a run measured, printed above the tables and stored in the JSON. */
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly kernel: string;
  readonly date: string;
}

export function describeMachine(): Machine {
  return { cpu: cpuModel(), cores: availableParallelism(), node: process.version, kernel: `Linux ${release()}`, date: new Date().toISOString() };
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}
