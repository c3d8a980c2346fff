/**
 * Looking at streams without disturbing them, for ls, info and clean: the
 * metadata object is read directly (no lock taken, no lock file created),
 * the flock is tested on the lock file only if it exists, opened read-only,
 * and processes are checked through kill(pid, 0) and /proc.
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type { Dtype } from 'tsshmem';
import {
  baseName,
  baseOfObject,
  decodeHeader,
  extensionVersionOf,
  Field,
  gpuDeviceLabel,
  isWriteInProgress,
  locateByBase,
  type MetadataBlock,
  ObjectSuffix,
  probeLockFile,
  readMetadataBlock,
  readStoredName,
  type StreamHeader,
  systemCode,
} from 'tsshmem/internal';
import { inspectRing, type RingRecord } from './ring-inspect.js';

export const SHM_DIRECTORY = '/dev/shm';

/** Opening never blocks (a planted FIFO) and never follows a planted symlink. */
const INSPECT_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface ObjectRecord {
  readonly path: string;
  readonly bytes: number;
  /** Permission bits in octal, e.g. "0600". */
  readonly mode: string;
  readonly uid: number;
}

export interface StreamObjects {
  readonly data: ObjectRecord | null;
  readonly meta: ObjectRecord | null;
  readonly gpuHandle: ObjectRecord | null;
}

/** stable: even write sequence; writing: odd while the lock is held; interrupted: odd with the lock free (a writer died mid-write). */
export type WriteState = 'stable' | 'writing' | 'interrupted';

export interface MetadataRecord {
  readonly version: number;
  readonly count: number;
  readonly dtype: Dtype;
  readonly dtypeCode: number;
  readonly itemSize: number;
  readonly ndim: number;
  readonly shape: readonly number[];
  readonly elements: number;
  /** Payload bytes. */
  readonly size: number;
  readonly gpu: boolean;
  readonly deviceIndex: number;
  readonly gpuDevice: string | null;
  readonly cpuMirror: boolean;
  readonly creatorPid: number;
  readonly creatorAlive: boolean;
  /** UNIX seconds of the last completed write, 0 before any. */
  readonly writeTime: number;
  readonly writeTimeIso: string | null;
  readonly ageSeconds: number | null;
  readonly writeSequence: number;
  readonly writeState: WriteState;
  /** Version of tsshmem's metadata extension, null for a stream created by pyshmem. */
  readonly extensionVersion: number | null;
}

export interface LockRecord {
  readonly path: string;
  readonly fileExists: boolean;
  /** Whether some process holds the flock right now; null if it could not be tested. */
  readonly held: boolean | null;
  /** The pid the metadata records as lock owner, 0 for none. */
  readonly ownerPid: number;
  readonly ownerAlive: boolean | null;
  /** An owner pid is recorded but its process is dead: the lock is free. */
  readonly staleRecord: boolean;
  readonly depth: number;
}

export interface StreamRecord {
  readonly base: string;
  /** The name tsshmem stored in the metadata extension; null for streams created by pyshmem. */
  readonly name: string | null;
  /** The name, or the base name where no name is stored. */
  readonly label: string;
  /** Why the stream cannot be used (unreadable or invalid metadata, missing data object); null if it can. */
  readonly problem: string | null;
  readonly objects: StreamObjects;
  readonly metadata: MetadataRecord | null;
  readonly lock: LockRecord | null;
  /** A ring stream's history, overflow mode and readers; null for a plain stream. */
  readonly ring: RingRecord | null;
}

/** "held by 123", "held", "free", "free (stale 123)", "?" (could not be tested). */
export function describeLock(lock: LockRecord | null): string {
  if (lock === null || lock.held === null) return '?';
  if (lock.held) return lock.ownerAlive === true ? `held by ${lock.ownerPid}` : 'held';
  return lock.staleRecord ? `free (stale ${lock.ownerPid})` : 'free';
}

/** The base names of all streams in /dev/shm (a data or a metadata object exists). */
export function listStreamBases(): string[] {
  const bases = new Set<string>();
  for (const entry of readdirSync(SHM_DIRECTORY)) {
    const base = baseOfObject(entry);
    if (base !== null && !entry.endsWith(ObjectSuffix.gpu)) bases.add(base);
  }
  return [...bases].sort();
}

export function streamExists(base: string): boolean {
  return objectRecord(base + ObjectSuffix.data) !== null || objectRecord(base + ObjectSuffix.meta) !== null;
}

/**
 * What can be told of a stream; a stream that cannot be read in some
 * unforeseen way gets that as its problem, so that ls and clean go on with
 * the others.
 */
export function inspectStream(base: string): StreamRecord {
  const objects: StreamObjects = {
    data: objectRecord(base + ObjectSuffix.data),
    meta: objectRecord(base + ObjectSuffix.meta),
    gpuHandle: objectRecord(base + ObjectSuffix.gpu),
  };
  try {
    return inspectObjects(base, objects);
  } catch (error) {
    const problem = `it cannot be inspected: ${error instanceof Error ? error.message : String(error)}`;
    return { base, name: null, label: base, problem, objects, metadata: null, lock: null, ring: null };
  }
}

function inspectObjects(base: string, objects: StreamObjects): StreamRecord {
  const read = readMetadataObject(base);
  const name = 'bytes' in read ? trustedStoredName(read.bytes, base) : null;
  const identity = { base, name, label: name ?? base };
  if ('problem' in read) return { ...identity, problem: read.problem, objects, metadata: null, lock: null, ring: null };
  const { fields } = read;
  const decoded = decodeHeader(fields);
  if (!decoded.ok) return { ...identity, problem: decoded.problem, objects, metadata: null, lock: null, ring: null };
  const lock = lockRecord(base, fields);
  const metadata = metadataRecord(fields, decoded.header, read.bytes, lock);
  const ring = inspectRing(join(SHM_DIRECTORY, base + ObjectSuffix.meta), decoded.header, objects.data?.bytes ?? 0);
  const problem = ring !== null && 'problem' in ring ? ring.problem : dataObjectProblem(objects.data, metadata.size);
  return { ...identity, problem, objects, metadata, lock, ring: ring !== null && 'problem' in ring ? null : ring };
}

/** The stored name of a stream, if it has one that hashes to its base name. */
export function storedNameOf(base: string): string | null {
  const read = readMetadataObject(base);
  return 'bytes' in read ? trustedStoredName(read.bytes, base) : null;
}

function trustedStoredName(bytes: Buffer, base: string): string | null {
  const name = readStoredName(bytes);
  return name !== null && baseName(name) === base ? name : null;
}

function objectRecord(object: string): ObjectRecord | null {
  const path = join(SHM_DIRECTORY, object);
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return null;
  return { path, bytes: stat.size, mode: (stat.mode & 0o777).toString(8).padStart(4, '0'), uid: stat.uid };
}

function readMetadataObject(base: string): MetadataBlock | { problem: string } {
  let fd: number;
  try {
    fd = openSync(join(SHM_DIRECTORY, base + ObjectSuffix.meta), INSPECT_OPEN_FLAGS);
  } catch (error) {
    return { problem: openProblem(error) };
  }
  try {
    return readMetadataBlock(fd);
  } finally {
    closeSync(fd);
  }
}

function openProblem(error: unknown): string {
  switch (systemCode(error)) {
    case 'ENOENT':
      return 'its metadata object is missing';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: it belongs to another user';
    case 'ELOOP':
      return 'its metadata object is a symbolic link';
    default:
      return `its metadata object cannot be read: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function metadataRecord(fields: Float64Array, header: StreamHeader, bytes: Buffer, lock: LockRecord): MetadataRecord {
  const { dtype, gpuEnabled, deviceIndex } = header;
  const writeTime = fields[Field.writeTime]!;
  const writeSequence = fields[Field.writeSequence]!;
  return {
    version: fields[Field.version]!,
    count: fields[Field.count]!,
    dtype: dtype.name,
    dtypeCode: dtype.code,
    itemSize: dtype.itemSize,
    ndim: header.shape.length,
    shape: header.shape,
    elements: header.size / dtype.itemSize,
    size: header.size,
    gpu: gpuEnabled,
    deviceIndex,
    gpuDevice: gpuDeviceLabel(header),
    cpuMirror: header.cpuMirror,
    creatorPid: header.creatorPid,
    creatorAlive: processAlive(header.creatorPid),
    writeTime,
    writeTimeIso: isoTime(writeTime),
    ageSeconds: isoTime(writeTime) === null ? null : Date.now() / 1000 - writeTime,
    writeSequence,
    writeState: !isWriteInProgress(writeSequence) ? 'stable' : lock.held === false ? 'interrupted' : 'writing',
    extensionVersion: extensionVersionOf(bytes),
  };
}

/** The ISO form of a write time; null before any write, or for a time no date can hold (a hostile block). */
function isoTime(unixSeconds: number): string | null {
  const date = new Date(unixSeconds * 1000);
  return unixSeconds > 0 && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

function dataObjectProblem(data: ObjectRecord | null, size: number): string | null {
  if (data === null) return 'its data object is missing';
  if (data.bytes < size) return `its data object is ${data.bytes} bytes, shorter than the payload size ${size}`;
  return null;
}

function lockRecord(base: string, fields: Float64Array): LockRecord {
  const path = locateByBase(base).lockPath;
  const { fileExists, held } = probeLockFile(path);
  const ownerPid = fields[Field.lockOwnerPid]!;
  const ownerAlive = ownerPid > 0 ? processAlive(ownerPid) : null;
  return { path, fileExists, held, ownerPid, ownerAlive, staleRecord: ownerAlive === false, depth: fields[Field.lockDepth]! };
}

/** A process exists and is not a zombie; a process of another user (EPERM) counts as alive. */
function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return systemCode(error) === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export interface UnreadableProcess {
  readonly pid: number;
  /** Owner of /proc/<pid>, null if that could not be read either. */
  readonly uid: number | null;
}

export interface MappingScan {
  /** Base name -> pids of the processes that map one of its objects. */
  readonly mappedBy: ReadonlyMap<string, readonly number[]>;
  /** Processes whose /proc/<pid>/maps could not be read. */
  readonly unreadable: readonly UnreadableProcess[];
}

/** A mapped /dev/shm object in /proc/<pid>/maps: its name (an unlinked one is marked "(deleted)"). */
const MAPPED_SHM_OBJECT = /\/dev\/shm\/([^/\n]+?)(?: \(deleted\))?$/gm;

/** Which streams every process maps, from /proc/<pid>/maps. */
export function scanMappings(): MappingScan {
  const mappedBy = new Map<string, number[]>();
  const unreadable: UnreadableProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch (error) {
      const code = systemCode(error);
      if (code !== 'ENOENT' && code !== 'ESRCH') unreadable.push({ pid, uid: processUid(pid) });
      continue;
    }
    for (const [, object] of maps.matchAll(MAPPED_SHM_OBJECT)) {
      const base = baseOfObject(object!);
      if (base === null) continue;
      const pids = mappedBy.get(base) ?? [];
      if (!pids.includes(pid)) pids.push(pid);
      mappedBy.set(base, pids);
    }
  }
  return { mappedBy, unreadable };
}

function processUid(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}
