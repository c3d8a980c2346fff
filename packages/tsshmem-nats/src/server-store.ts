/**
 * The JetStream stream that keeps a subject's frames on the server.
 *
 * Latest-value mode: a memory stream over SUBJECT.k.> with
 * max_msgs_per_subject 1, so the server holds the newest message of each
 * chunk index: the last kept frame, whole. A memory stream costs no disk
 * write per frame, and the publisher sends a frame there at most every
 * keepInterval (and the last frame once the source is quiet), so the
 * server's work for it stays small beside the live traffic.
 *
 * Lossless mode: a file stream over SUBJECT.> that keeps the last
 * retentionFrames frames (as chunk messages), survives a server restart and
 * serves durable consumers.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, type JetStreamManager, type StoredMsg, StorageType, type StreamConfig } from '@nats-io/jetstream';

import { BridgeError, messageOf } from './errors.js';
import { allChunks, chunkSubject, jetStreamName, keptChunks } from './subjects.js';

export type BridgeMode = 'latest' | 'lossless';

const DESCRIPTION: Record<BridgeMode, string> = {
  latest: 'tsshmem bridge, latest value',
  lossless: 'tsshmem bridge, lossless',
};

/** The JetStream manager, or null when the server has no JetStream. */
export async function jetStreamOf(connection: NatsConnection): Promise<JetStreamManager | null> {
  try {
    return await jetstreamManager(connection, { timeout: 2000 });
  } catch {
    return null;
  }
}

export interface StoreSettings {
  readonly subject: string;
  readonly mode: BridgeMode;
  /** Lossless mode: messages kept (frames x chunks per frame). */
  readonly maxMessages?: number;
}

/** Creates the stream, or updates the one there; ERR_BRIDGE_MODE_MISMATCH if it serves the other mode. */
export async function ensureStore(manager: JetStreamManager, settings: StoreSettings): Promise<string> {
  const name = jetStreamName(settings.subject);
  const config = storeConfig(name, settings);
  const existing = await manager.streams.info(name).catch(() => null);
  if (existing === null) {
    await manager.streams.add(config).catch((error: unknown) => {
      throw new BridgeError('ERR_BRIDGE_ARGUMENT', `the server refused JetStream stream ${name} for subject ${settings.subject}: ${messageOf(error)}`, { cause: error });
    });
    return name;
  }
  checkMode(name, existing.config.description, settings);
  if (settings.mode === 'lossless' && existing.config.max_msgs !== config.max_msgs) {
    await manager.streams.update(name, { max_msgs: config.max_msgs });
  }
  return name;
}

/** Which mode the stream of a subject serves, or null when there is none. */
export async function storeMode(manager: JetStreamManager, subject: string): Promise<BridgeMode | null> {
  const info = await manager.streams.info(jetStreamName(subject)).catch(() => null);
  if (info === null) return null;
  return info.config.description === DESCRIPTION.lossless ? 'lossless' : 'latest';
}

export function checkMode(name: string, description: string | undefined, settings: StoreSettings): void {
  if (description === DESCRIPTION[settings.mode]) return;
  const other = settings.mode === 'latest' ? 'lossless' : 'latest-value';
  throw new BridgeError(
    'ERR_BRIDGE_MODE_MISMATCH',
    `subject ${settings.subject} carries a ${other} bridge (JetStream stream ${name}): ${settings.mode === 'latest' ? 'add --lossless' : 'drop --lossless'}, or use another --subject`,
  );
}

function storeConfig(name: string, settings: StoreSettings): Partial<StreamConfig> & { name: string } {
  const common = { name, description: DESCRIPTION[settings.mode], discard: DiscardPolicy.Old, allow_direct: true, num_replicas: 1 };
  if (settings.mode === 'latest') {
    return { ...common, subjects: [keptChunks(settings.subject)], storage: StorageType.Memory, max_msgs_per_subject: 1 };
  }
  return { ...common, subjects: [allChunks(settings.subject)], storage: StorageType.File, max_msgs: settings.maxMessages ?? -1 };
}

/** The newest stored message of a chunk index, or null. */
export async function lastChunk(manager: JetStreamManager, name: string, subject: string, index: number): Promise<StoredMsg | null> {
  return manager.direct.getMessage(name, { last_by_subj: chunkSubject(subject, 'k', index) }).catch(() => null);
}
