// `npm test`: brings what the suite needs from the system
// (scripts/install-test-deps), then runs every test/*.test.js with Node's
// test runner, one file at a time (the files start real processes and
// measure real waits; on a 2-core machine they must not compete with each
// other), under this Node and then under each other supported major
// (Node 20, 22, 24 from the npm registry: scripts/runtimes.js). The addon is
// built once: it is Node-API, the same binary for every version.
//
//   node test/run.js [--all-node] [pattern...]
//     patterns: run only the files whose names contain one of them
//     --all-node: also under the other Node majors (npm test passes it)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NODE_MAJORS, runtimeBinary } from '../scripts/runtimes.js';

const here = dirname(fileURLToPath(import.meta.url));

const systemDeps = spawnSync('bash', [join(here, '..', 'scripts', 'install-test-deps')], { stdio: 'inherit' });
if (systemDeps.status !== 0) process.exit(1);

const args = process.argv.slice(2);
const allNode = args.includes('--all-node');
const only = args.filter((arg) => arg !== '--all-node');
const files = readdirSync(here)
  .filter((file) => file.endsWith('.test.js'))
  .filter((file) => only.length === 0 || only.some((pattern) => file.includes(pattern)))
  .sort()
  .map((file) => join(here, file));

/**
 * Runs the files under the given node binary. Another Node's directory (it
 * holds node alone) leads PATH, so that scripts' `node` is it too; the running
 * Node's PATH stays as it is, since its directory (/usr/bin, say) may hold
 * another python3 than the one the PATH finds first.
 */
function suite(node) {
  const path = node === process.execPath ? process.env.PATH : `${dirname(node)}${delimiter}${process.env.PATH}`;
  const env = { ...process.env, PATH: path };
  return spawnSync(node, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit', env }).status ?? 1;
}

const thisMajor = Number(process.versions.node.split('.')[0]);
const others = allNode ? NODE_MAJORS.filter((major) => major !== thisMajor) : [];
const failed = [];
if (suite(process.execPath) !== 0) failed.push(`Node ${process.versions.node}`);
for (const major of others) {
  const node = runtimeBinary(`node${major}`);
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`\nnpm test: the suite under Node ${version} (${node})\n`);
  if (suite(node) !== 0) failed.push(`Node ${version}`);
}
if (failed.length > 0) console.error(`npm test: failures under ${failed.join(', ')}`);
process.exit(failed.length > 0 ? 1 : 0);
