/**
 * `tsshmem-nats/defaults`: the bridge's default settings, importable without
 * loading the NATS client (the tsshmem command shows them in its help and
 * loads the bridge only when it runs).
 */

/** Latest-value mode: milliseconds between the frames the server keeps for late subscribers. */
export const DEFAULT_KEEP_INTERVAL_MS = 100;
/** Lossless mode: frames the server keeps for subscribers that were away. */
export const DEFAULT_RETENTION_FRAMES = 1000;
/**
 * Lossless subscriber waiting for its publisher: milliseconds between looks
 * for the publisher's JetStream stream, behind the server's announcement of it.
 */
export const DEFAULT_PUBLISHER_CHECK_INTERVAL_MS = 5000;
