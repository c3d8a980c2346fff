/**
 * How commands address streams: by name, or by the ps_ base name that
 * /dev/shm shows (the only handle on a stream created by pyshmem, which
 * stores no name).
 */
import { open, type SharedMemory, type ShmError } from 'tsshmem';
import { baseName, isBaseName, openByBase, streamNotFound } from 'tsshmem/internal';
import { storedNameOf, streamExists } from './inspect.js';
import { reportError } from './report-error.js';

export interface StreamAddress {
  readonly base: string;
  /** null when only the base name is known (a stream created by pyshmem). */
  readonly name: string | null;
  /** The name, or the base name. */
  readonly label: string;
}

/**
 * A name is tried first; then, if the text is a base name (ps_ and 14 hex
 * digits), the stream with that base name.
 */
export function findStream(nameOrBase: string): StreamAddress | null {
  const hashed = baseName(nameOrBase);
  if (streamExists(hashed)) return { base: hashed, name: nameOrBase, label: nameOrBase };
  if (!isBaseName(nameOrBase) || !streamExists(nameOrBase)) return null;
  const name = storedNameOf(nameOrBase);
  return { base: nameOrBase, name, label: name ?? nameOrBase };
}

export function requireStream(nameOrBase: string): StreamAddress {
  const address = findStream(nameOrBase);
  if (address === null) throw missingStream(nameOrBase);
  return address;
}

export function missingStream(nameOrBase: string, remedy = 'see tsshmem ls'): ShmError {
  return streamNotFound(nameOrBase, remedy);
}

/**
 * The streams named on a command line, each once; a name that matches no
 * stream is reported on stderr and sets `missing` (exit code 3), and the
 * command goes on with the others.
 */
export function resolveStreams(names: readonly string[]): { addresses: StreamAddress[]; missing: boolean } {
  const found: StreamAddress[] = [];
  let missing = false;
  for (const name of names) {
    const address = findStream(name);
    if (address !== null) {
      found.push(address);
    } else {
      missing = true;
      reportError(missingStream(name));
    }
  }
  return { addresses: eachOnce(found), missing };
}

/** The streams named on a command line, each once; throws for the first name that matches no stream. */
export function requireStreams(names: readonly string[]): StreamAddress[] {
  return eachOnce(names.map(requireStream));
}

/** Each stream once (two names may address one stream: its name and its base name), in order. */
function eachOnce(addresses: readonly StreamAddress[]): StreamAddress[] {
  return addresses.filter((address, index) => addresses.findIndex((other) => other.base === address.base) === index);
}

export function openStream(address: StreamAddress): SharedMemory {
  return address.name !== null ? open(address.name) : openByBase(address.base);
}

/** "label (ps_…)" for a stream with a stored name; the base name alone for one without. */
export function describeAddress({ label, base }: { readonly label: string; readonly base: string }): string {
  return label === base ? base : `${label} (${base})`;
}
