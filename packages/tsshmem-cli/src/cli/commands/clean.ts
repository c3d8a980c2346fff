/**
 * `tsshmem clean`: removes orphaned streams, those that no live process can
 * be using: the creator is dead, nobody holds the lock and no process maps
 * any of its objects (from /proc/<pid>/maps).
 */
import type { Command } from 'commander';

import {
  inspectStream,
  listStreamBases,
  scanMappings,
  type MappingScan,
  type ObjectRecord,
  type StreamRecord,
  type UnreadableProcess,
} from '../inspect.js';
import { unlinkByBase } from 'tsshmem/internal';
import { exitCodeOf, reportError } from '../report-error.js';
import { describeAddress, resolveStreams } from '../streams.js';

const GROUP_OR_OTHER_ACCESS = 0o077;

interface CleanOptions {
  readonly dryRun?: boolean;
  readonly verbose?: boolean;
}

export function registerClean(program: Command): void {
  program
    .command('clean')
    .summary('remove streams no live process uses')
    .description(
      'remove orphaned streams: the creator process is dead, no process holds the lock and no process maps the stream ' +
        '(checked in /proc/*/maps). Where the maps of another user\'s process cannot be read, streams that process could ' +
        'open are kept',
    )
    .argument('[names...]', 'only consider these streams (names or ps_ base names); default: every stream in /dev/shm')
    .option('-n, --dry-run', 'list what would be removed; remove nothing')
    .option('-v, --verbose', 'also list the streams kept, and why')
    .action((names: string[], options: CleanOptions) => clean(names, options));
}

function clean(names: readonly string[], options: CleanOptions): void {
  const { bases, missing } = candidates(names);
  const scan = scanMappings();
  let removed = 0;
  let kept = 0;
  let failed = false;
  for (const record of bases.map(inspectStream)) {
    const reason = reasonToKeep(record, scan);
    if (reason !== null) {
      kept++;
      if (options.verbose === true) console.log(`kept ${describeAddress(record)}: ${reason}`);
      continue;
    }
    const why = `creator pid ${record.metadata?.creatorPid} is dead and no process maps it`;
    if (options.dryRun === true) {
      console.log(`would remove ${describeAddress(record)}: ${why}`);
      removed++;
      continue;
    }
    try {
      unlinkByBase(record.base);
      console.log(`removed ${describeAddress(record)}: ${why}`);
      removed++;
    } catch (error) {
      failed = true;
      reportError(error);
    }
  }
  reportUnreadable(scan.unreadable);
  console.log(`${removed} ${options.dryRun === true ? 'would be removed' : 'removed'}, ${kept} kept`);
  process.exitCode = exitCodeOf({ failed, missing });
}

function candidates(names: readonly string[]): { bases: string[]; missing: boolean } {
  if (names.length === 0) return { bases: listStreamBases(), missing: false };
  const { addresses, missing } = resolveStreams(names);
  return { bases: addresses.map((address) => address.base), missing };
}

/** Why the stream may be in use, or null when it is orphaned. */
function reasonToKeep(record: StreamRecord, scan: MappingScan): string | null {
  const { metadata, lock } = record;
  if (metadata === null || lock === null) return `its metadata cannot be used (${record.problem}); remove it with tsshmem rm if it is yours`;
  if (metadata.creatorAlive) return `creator pid ${metadata.creatorPid} is alive`;
  if (lock.held === true) return 'a process holds its lock';
  if (lock.held === null) return 'its lock could not be tested';
  const mappers = scan.mappedBy.get(record.base);
  if (mappers !== undefined) return `mapped by pid ${mappers.join(', ')}`;
  const unseen = scan.unreadable.filter((reader) => couldMap(reader, record));
  if (unseen.length > 0) return `pid ${unseen.map((reader) => reader.pid).join(', ')} could map it but its memory maps are unreadable`;
  return null;
}

/**
 * Whether a process whose maps are unreadable might map the stream. Processes
 * of this user are excluded (the unreadable ones are non-dumpable, see
 * reportUnreadable); another user's process might if it owns the objects or
 * their permissions grant group or other access.
 */
function couldMap(reader: UnreadableProcess, record: StreamRecord): boolean {
  if (reader.uid === currentUid()) return false;
  const objects = [record.objects.data, record.objects.meta].filter((object): object is ObjectRecord => object !== null);
  return reader.uid === null || objects.some((object) => object.uid === reader.uid || (parseInt(object.mode, 8) & GROUP_OR_OTHER_ACCESS) !== 0);
}

function reportUnreadable(unreadable: readonly UnreadableProcess[]): void {
  const ownPids = unreadable.filter((reader) => reader.uid === currentUid()).map((reader) => reader.pid);
  const otherPids = unreadable.filter((reader) => reader.uid !== currentUid()).map((reader) => reader.pid);
  if (otherPids.length > 0) {
    process.stderr.write(
      `note: the memory maps of ${processes(otherPids.length)} of other users are unreadable (pid ${otherPids.join(', ')}); ` +
        'streams they could open were kept\n',
    );
  }
  if (ownPids.length > 0) {
    process.stderr.write(
      `note: the memory maps of ${processes(ownPids.length)} of this user are unreadable (pid ${ownPids.join(', ')}: ` +
        'non-dumpable processes); they were not checked\n',
    );
  }
}

function processes(count: number): string {
  return count === 1 ? '1 process' : `${count} processes`;
}

function currentUid(): number {
  return process.geteuid?.() ?? -1;
}
