/** `tsshmem ls`: every stream of the pyshmem format in /dev/shm, without locking or changing any. */
import type { Command } from 'commander';

import { describeLock, inspectStream, listStreamBases, type StreamRecord } from '../inspect.js';
import { summarizeRing } from '../ring-inspect.js';
import { formatAge, formatBytes, formatShape, formatTable } from '../text.js';

const COLUMNS = ['NAME', 'SHAPE', 'DTYPE', 'SIZE', 'COUNT', 'LAST WRITE', 'CREATOR', 'LOCK', 'GPU', 'RING'];

export function registerLs(program: Command): void {
  program
    .command('ls')
    .summary('list the streams in /dev/shm')
    .description(
      'list the streams in /dev/shm: name (the ps_ base name for streams created by pyshmem), shape, dtype, size, ' +
        'write count, age of the last write, creator pid, lock holder, GPU device and, for ring streams, history depth, ' +
        'overflow mode, registered readers and how far behind the slowest is',
    )
    .option('--json', 'print a JSON array of stream records (the records of tsshmem info --json)')
    .action((options: { json?: boolean }) => {
      const records = listStreamBases()
        .map(inspectStream)
        .sort((a, b) => a.label.localeCompare(b.label));
      if (options.json === true) console.log(JSON.stringify(records, null, 2));
      else if (records.length === 0) console.log('no streams in /dev/shm');
      else console.log(formatTable(COLUMNS, records.map(row)).join('\n'));
    });
}

function row(record: StreamRecord): string[] {
  const { metadata } = record;
  if (metadata === null) return [record.label, `(${record.problem})`];
  return [
    record.problem === null ? record.label : `${record.label} (${record.problem})`,
    formatShape(metadata.shape),
    metadata.dtype,
    formatBytes(metadata.size),
    String(metadata.count),
    metadata.ageSeconds === null ? 'never' : `${formatAge(metadata.ageSeconds)} ago`,
    `${metadata.creatorPid} (${metadata.creatorAlive ? 'alive' : 'dead'})`,
    describeLock(record.lock),
    metadata.gpuDevice ?? '-',
    summarizeRing(record.ring),
  ];
}
