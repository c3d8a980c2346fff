// Shared by 40-wait and 41-wait-processes: streams made by either library,
// the raw words of tsshmem's metadata extension area, and polling.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { create } from '../packages/tsshmem/dist/index.js';
import { Extension, WAKE_SLOT_COUNT } from '../packages/tsshmem/dist/format/extension.js';
import { baseName } from '../packages/tsshmem/dist/format/names.js';
import { runPythonPeer } from './helpers.js';

/** Creates the stream the way pyshmem does (256-byte metadata, no extension area). */
export async function createWithPython(name, shape, dtype) {
  const { code, stderr } = await runPythonPeer('create', { name, shape, dtype }).done;
  assert.equal(code, 0, stderr);
  assert.equal(statSync(metaPath(name)).size, 256, 'a pyshmem stream has no extension area');
}

/** How each kind of stream comes to exist: tsshmem's has the extension area, pyshmem's has none. */
export const creators = {
  tsshmem: async (name, shape, dtype) => create(name, { shape, dtype }).close(),
  pyshmem: createWithPython,
};

export function metaPath(name) {
  return `/dev/shm/${baseName(name)}_meta`;
}

/** The uint32 at byte `offset` of the stream's raw metadata object (offsets: src/format/extension.ts). */
export function metaWord(name, offset) {
  return readFileSync(metaPath(name)).readUInt32LE(offset);
}

/** The wake slots {pid, state} (state 1: WAITING) that process `pid` holds in the extension area. */
export function wakeSlotsOf(name, pid) {
  const bytes = readFileSync(metaPath(name));
  return Array.from({ length: WAKE_SLOT_COUNT }, (_, index) => Extension.wakeSlots + 16 * index)
    .map((at) => ({ pid: bytes.readUInt32LE(at), state: bytes.readUInt32LE(at + 8) }))
    .filter((slot) => slot.pid === pid);
}

/** Polls predicate every millisecond; true as soon as it holds, false after timeoutMs. */
export async function eventually(predicate, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (predicate()) return true;
    await sleep(1);
  }
  return predicate();
}
