// The fault soak for 20 s (scripts/fault-soak.js; `npm run soak -- --faults`
// runs it for 10 minutes): Node and pyshmem writers and readers while random
// ones are SIGKILLed and replaced. No torn frame, no hung operation, the final
// count equals the completed writes, nothing of the stream left behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { remains, runFaultSoak } from '../scripts/fault-soak.js';
import { uniqueStreamName } from './helpers.js';

test('20 s of writers and readers (Node and pyshmem) under random SIGKILLs: no torn frame, no hang, count = completed writes, nothing left', { timeout: 180000 }, async (t) => {
  const name = uniqueStreamName('fault-soak');
  const result = await runFaultSoak({ seconds: 20, name });
  const { failures, ...figures } = result;
  t.diagnostic(JSON.stringify(figures));
  assert.deepEqual(failures, []);
  assert.ok(result.kills >= 10, `only ${result.kills} kills`);
  assert.equal(result.torn, 0);
  assert.equal(result.finalCount, result.completedWrites);
  assert.deepEqual(remains(name), [], 'the stream left objects or its lock file');
});
