/** What every section receives from the runner. */
import type { CReferences } from './c-references.js';
import type { Cleanup } from './cleanup.js';
import type { Timing } from './measure.js';
import type { Progress } from './progress.js';

export interface BenchContext {
  readonly timing: Timing;
  readonly quick: boolean;
  readonly cleanup: Cleanup;
  readonly progress: Progress;
  /** The C references, compiled on first use. */
  references(): Promise<CReferences>;
}
