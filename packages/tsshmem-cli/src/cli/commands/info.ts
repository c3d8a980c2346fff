/** `tsshmem info NAME`: every metadata field of one stream and what follows from them, without locking it. */
import type { Command } from 'commander';
import { EXTENSION_VERSION } from 'tsshmem/internal';

import { describeLock, inspectStream, type LockRecord, type MetadataRecord, type ObjectRecord, type StreamRecord } from '../inspect.js';
import { describeRingReaders, type RingRecord } from '../ring-inspect.js';
import { requireStream } from '../streams.js';
import { formatAge, formatBytes, formatShape } from '../text.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .summary('show all metadata of one stream')
    .description('show all metadata of one stream (every field of the pyshmem format plus derived ones) without locking it')
    .argument('<name>', 'stream name, or the ps_ base name shown by ls (streams created by pyshmem have only that)')
    .option('--json', 'print the record as JSON')
    .action((name: string, options: { json?: boolean }) => {
      const record = inspectStream(requireStream(name).base);
      console.log(options.json === true ? JSON.stringify(record, null, 2) : describe(record).join('\n'));
    });
}

function describe(record: StreamRecord): string[] {
  const lines: [string, string][] = [
    ['name', record.name ?? '(not stored: created by pyshmem)'],
    ['base', record.base],
  ];
  if (record.problem !== null) lines.push(['problem', record.problem]);
  if (record.metadata !== null && record.lock !== null) lines.push(...describeMetadata(record.metadata), ...describeLockFields(record.lock));
  if (record.ring !== null) lines.push(...describeRing(record.ring));
  lines.push(
    ['data object', describeObject(record.objects.data)],
    ['metadata object', describeObject(record.objects.meta)],
    ['gpu handle', describeObject(record.objects.gpuHandle)],
  );
  const width = Math.max(...lines.map(([key]) => key.length)) + 2;
  return lines.map(([key, value]) => key.padEnd(width) + value);
}

function describeMetadata(metadata: MetadataRecord): [string, string][] {
  return [
    ['version', String(metadata.version)],
    ['count', String(metadata.count)],
    ['dtype', `${metadata.dtype} (code ${metadata.dtypeCode}, ${metadata.itemSize}-byte items)`],
    ['ndim', String(metadata.ndim)],
    ['shape', `${formatShape(metadata.shape)} (${metadata.elements} elements)`],
    ['size', `${metadata.size} bytes (${formatBytes(metadata.size)})`],
    ['gpu enabled', metadata.gpu ? `yes (${metadata.gpuDevice})` : 'no'],
    ['device index', String(metadata.deviceIndex)],
    ['cpu mirror', metadata.cpuMirror ? 'yes' : 'no'],
    ['creator pid', `${metadata.creatorPid} (${metadata.creatorAlive ? 'alive' : 'dead'})`],
    ['write time', describeWriteTime(metadata)],
    ['write sequence', `${metadata.writeSequence} (${metadata.writeState})`],
    ['extension', describeExtension(metadata.extensionVersion)],
  ];
}

function describeWriteTime(metadata: MetadataRecord): string {
  if (metadata.writeTimeIso === null || metadata.ageSeconds === null) {
    return `${metadata.writeTime} (${metadata.writeTime === 0 ? 'never written' : 'not a valid time'})`;
  }
  return `${metadata.writeTime} (${metadata.writeTimeIso}, ${formatAge(metadata.ageSeconds)} ago)`;
}

function describeLockFields(lock: LockRecord): [string, string][] {
  const owner = lock.ownerAlive === null ? '' : lock.ownerAlive ? ' (alive)' : ' (dead: a stale record)';
  return [
    ['lock owner pid', `${lock.ownerPid}${owner}`],
    ['lock depth', String(lock.depth)],
    ['lock', describeLock(lock)],
    ['lock file', `${lock.path} (${lock.fileExists ? 'exists' : 'missing'})`],
  ];
}

function describeRing(ring: RingRecord): [string, string][] {
  const readers = describeRingReaders(ring);
  return [
    ['ring', `${ring.history} frame slots, overflow ${ring.overflow}, ${ring.pyshmemFrame ? 'pyshmem frame kept current' : 'no pyshmem frame (version 1002)'}`],
    ['ring head', `frame ${ring.head}`],
    ...(readers.length === 0 ? [['ring readers', 'none registered'] as [string, string]] : readers.map((line, i): [string, string] => [i === 0 ? 'ring readers' : '', line])),
  ];
}

function describeObject(object: ObjectRecord | null): string {
  return object === null ? 'missing' : `${object.path} (${object.bytes} bytes, mode ${object.mode}, uid ${object.uid})`;
}

function describeExtension(version: number | null): string {
  if (version === null) return 'none (created by pyshmem)';
  if (version === EXTENSION_VERSION) return `tsshmem version ${version}`;
  return `tsshmem version ${version}, unknown to this tsshmem (it knows version ${EXTENSION_VERSION}): left unused, the stream works as a pyshmem one`;
}
