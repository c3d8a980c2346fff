/**
 * Where frames travel: the subject a stream is published on, the subjects
 * of its chunks, and the JetStream stream that keeps them on the server.
 *
 * A frame of n chunks is published as n messages on SUBJECT.<kind>.<index>:
 * kind "k" (kept: captured by the server's JetStream stream, so a late
 * subscriber finds it) or "v" (volatile: core NATS only). One subject per
 * chunk index lets a stream with max_msgs_per_subject 1 keep exactly the
 * newest message of each index, that is the last frame as a whole.
 */
import { createHash } from 'node:crypto';

import { BridgeError } from './errors.js';

export const SUBJECT_PREFIX = 'tsshmem';
export type ChunkKind = 'k' | 'v';

const UNSAFE_TOKEN_CHARACTERS = /[^A-Za-z0-9_-]/g;
const VALID_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/** "tsshmem.<name>", each character other than letters, digits, _ and - replaced by _. */
export function defaultSubject(streamName: string): string {
  return `${SUBJECT_PREFIX}.${streamName.replace(UNSAFE_TOKEN_CHARACTERS, '_')}`;
}

/** Throws ERR_BRIDGE_ARGUMENT for a subject that is not a plain NATS subject (no wildcards, no empty tokens). */
export function checkSubject(subject: string): string {
  if (!VALID_SUBJECT.test(subject)) {
    throw new BridgeError(
      'ERR_BRIDGE_ARGUMENT',
      `subject ${JSON.stringify(subject)} is not a plain NATS subject: use tokens separated by dots, without spaces or the wildcards * and >`,
    );
  }
  return subject;
}

export function chunkSubject(subject: string, kind: ChunkKind, index: number): string {
  return `${subject}.${kind}.${index}`;
}

/** Every chunk of every frame: what a subscriber listens to and what a lossless stream captures. */
export function allChunks(subject: string): string {
  return `${subject}.>`;
}

/** The chunks the latest-value stream keeps. */
export function keptChunks(subject: string): string {
  return `${subject}.k.>`;
}

/** The kind and index of a chunk subject, or null for a subject that is not one. */
export function parseChunkSubject(subject: string, messageSubject: string): { kind: ChunkKind; index: number } | null {
  const rest = messageSubject.startsWith(`${subject}.`) ? messageSubject.slice(subject.length + 1).split('.') : [];
  const [kind, index] = rest;
  if (rest.length !== 2 || (kind !== 'k' && kind !== 'v') || !/^\d+$/.test(index ?? '')) return null;
  return { kind, index: Number(index) };
}

/**
 * The JetStream stream that keeps a subject's frames: "TSSHMEM_" and the
 * subject made a valid stream name, with a hash so that subjects that differ
 * only in replaced characters get different streams.
 */
export function jetStreamName(subject: string): string {
  const hash = createHash('sha1').update(subject).digest('hex').slice(0, 8);
  return `TSSHMEM_${subject.replace(UNSAFE_TOKEN_CHARACTERS, '_')}_${hash}`;
}
