// `npm test`: brings what the suite needs from the system
// (scripts/install-test-deps), then runs every test/*.test.js with Node's
// test runner, one file at a time (the files start real processes and
// measure real waits; on a 2-core machine they must not compete with each
// other).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const systemDeps = spawnSync('bash', [join(here, '..', 'scripts', 'install-test-deps')], { stdio: 'inherit' });
if (systemDeps.status !== 0) process.exit(1);

const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((file) => file.endsWith('.test.js'))
  .filter((file) => only.length === 0 || only.some((pattern) => file.includes(pattern)))
  .sort()
  .map((file) => join(here, file));

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
