/** The bridge's errors: a message that says what to do, and a `.code` scripts can test. */

export type BridgeErrorCode =
  /** The NATS server cannot be reached or refused the connection (address, credentials, TLS). */
  | 'ERR_BRIDGE_CONNECT'
  /** A subject, stream or option the bridge cannot use. */
  | 'ERR_BRIDGE_ARGUMENT'
  /** The local stream's shape or dtype differs from the publisher's. */
  | 'ERR_BRIDGE_SHAPE_MISMATCH'
  /** The subject is already used by a bridge in the other mode (latest-value or lossless). */
  | 'ERR_BRIDGE_MODE_MISMATCH'
  /** The server has no JetStream where the chosen mode needs it. */
  | 'ERR_BRIDGE_JETSTREAM';

export class BridgeError extends Error {
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BridgeError';
    this.code = code;
  }
}

/** An error's message, or the thrown value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
