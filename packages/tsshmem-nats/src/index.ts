/**
 * tsshmem-nats: carries the frames of a tsshmem (or pyshmem) stream to
 * other hosts through a NATS server (docs/bridge.md).
 */
export { Publisher, type PublisherOptions, type PublisherStatus } from './publisher.js';
export { DEFAULT_KEEP_INTERVAL_MS, DEFAULT_PUBLISHER_CHECK_INTERVAL_MS, DEFAULT_RETENTION_FRAMES } from './defaults.js';
export { Subscriber, type SubscriberEvent, type SubscriberOptions, type SubscriberStatus } from './subscriber.js';
export { type ConnectionSettings, redact } from './connection.js';
export { BridgeError, type BridgeErrorCode } from './errors.js';
export { defaultSubject } from './subjects.js';
export { HEADER, WIRE_VERSION, type FrameInfo } from './header.js';
export type { BridgeMode } from './server-store.js';
