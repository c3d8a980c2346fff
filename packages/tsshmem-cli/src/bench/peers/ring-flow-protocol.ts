/** What the ring section's flow writer and reader agree on; element 0 of the END frame ends the reader. */
export const END_FRAME = -1;

export interface RingFlowArguments {
  readonly role: 'writer' | 'reader';
  readonly name: string;
  /** Writes per second; 0: as fast as the stream lets it. */
  readonly hz: number;
  readonly seconds: number;
}

export interface RingFlowWriterReport {
  readonly written: number;
  readonly seconds: number;
}

export interface RingFlowReaderReport {
  readonly delivered: number;
  readonly missed: number;
}
